#!/usr/bin/env bash
# Big-thread benchmark: does a page of a 10,000-comment thread cost what a page of a
# 100-comment thread does? See benches/README.md ("Big threads").
#
#   benches/bigthread.sh [path-to-afterword-binary]
#
# Without an argument it uses target/release/afterword (build it first:
# cargo build --release). Environment: SIZES ("100 10000"), LIMIT (10), DURATION (10s),
# ROUNDS (2), PHASES (all; empty: none), CONNECTIONS (32), THREADS (2), EMBED_RUNS (10; 0
# skips the browser),
# KEEP_TMP (0). All sizes are served at once and measured in turns, the order reversed
# every round, so that a busy machine weighs on each alike.
# Needs wrk, curl, python3; for the browser part node, embed/node_modules (cd embed &&
# npm ci) and Chromium (/usr/bin/chromium or AFTERWORD_TEST_CHROMIUM). Only 127.0.0.1.
set -euo pipefail
export LC_ALL=C

SIZES="${SIZES:-100 10000}"
# Top-level comments per page: 10 (with their replies, 100 comments) makes every page of
# both threads the same size, so that only the thread's size differs.
LIMIT="${LIMIT:-10}"
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-2}"
PHASES="${PHASES-json-first json-last html-first html-last json-first-cold json-last-cold html-first-cold html-last-cold}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
EMBED_RUNS="${EMBED_RUNS:-10}"
KEEP_TMP="${KEEP_TMP:-0}"
SITE="bench"
SLUG="/big/"
SLUG_Q="%2Fbig%2F"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
die() { echo "bigthread.sh: $*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
BIN="${1:-$REPO_DIR/target/release/afterword}"
[ -x "$BIN" ] || die "not an executable file: $BIN (run cargo build --release first)"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed. Install it with:  apt-get install -y wrk"
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || die "$tool is required"; done
if [ "$EMBED_RUNS" != 0 ]; then
  command -v node >/dev/null 2>&1 || die "node is required for the browser part (EMBED_RUNS=0 skips it)"
  [ -d "$REPO_DIR/embed/node_modules/playwright-core" ] || die "run (cd embed && npm ci) first (EMBED_RUNS=0 skips the browser part)"
fi
unset AFTERWORD_LISTEN AFTERWORD_DATABASE_URL AFTERWORD_PUBLIC_URL AFTERWORD_CONFIG
export RUST_LOG="${RUST_LOG:-warn}"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/afterword-bigthread.XXXXXX")"
declare -A PID BASE FIRST_JSON LAST_JSON FIRST_HTML LAST_HTML LAST_MODE LFROM LTO LLIMIT
stop_servers() {
  local p
  for p in "${PID[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  set +e
  stop_servers
  if [ "$KEEP_TMP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

curl_() { curl --noproxy '*' -sS --max-time 30 "$@"; }

# p50 and p99 in ms, req/s, non-2xx and socket errors, and the Lua script's cache line.
parse_wrk() {
  awk '
    function ms(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000; if (u == "ms") return n; if (u == "s") return n * 1000
      return -1
    }
    BEGIN { p50 = -1; p99 = -1; rps = 0; bad = 0; sock = 0; cache = "-" }
    /Latency Distribution/ { d = 1; next }
    d && $1 == "50%" { p50 = ms($2) }
    d && $1 == "99%" { p99 = ms($2); d = 0 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { line = $0; gsub(/[^0-9 ]/, " ", line); n = split(line, f, " "); for (i = 1; i <= n; i++) sock += f[i] }
    /^cache: / { cache = $2 " " $3 }
    END { printf "p50=%.2fms p99=%.2fms req/s=%.0f errors=%d %s\n", p50, p99, rps, bad + sock, cache }
  ' "$1"
}

RESULTS=()
# phase SIZE NAME ROUND URL [MODE] : one wrk run; MODE set runs bigthread.lua (cold keys)
phase() {
  local size="$1" name="$2" round="$3" url="$4" mode="${5:-}" out="$TMP/$1-$2-$3.out"
  local script=()
  [ -n "$mode" ] && script=(-s "$BENCH_DIR/bigthread.lua")
  MODE="$mode" LAST_FROM="${LFROM[$size]}" LAST_TO="${LTO[$size]}" LAST_LIMIT="${LLIMIT[$size]}" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
    "${script[@]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($size $name)"; }
  kill -0 "${PID[$size]}" 2>/dev/null || die "the server died during $size $name"
  local line
  line="$(printf '%-6s %-16s r%s %s' "$size" "$name" "$round" "$(parse_wrk "$out")")"
  echo "$line"
  RESULTS+=("$line")
}

# The sizes in round R's order: as given in odd rounds, reversed in even ones.
order() {
  local -a s=($SIZES)
  if [ $(($1 % 2)) = 1 ]; then echo "${s[@]}"; else
    local i out=(); for ((i=${#s[@]}-1; i>=0; i--)); do out+=("${s[i]}"); done; echo "${out[@]}"; fi
}

GIT_COMMIT="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== Afterword big-thread benchmark"
echo "date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')   cpus: $(nproc)   load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit:  $GIT_COMMIT   binary: $BIN"
echo "wrk:     -t$THREADS -c$CONNECTIONS -d$DURATION per phase, limit=$LIMIT; backend: SQLite; embed: its default 50 per page"
echo

for size in $SIZES; do
  dir="$TMP/$size"
  mkdir -p "$dir"
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  B="http://127.0.0.1:$PORT"
  BASE[$size]="$B"
  cat >"$dir/afterword.toml" <<EOF2
listen = "127.0.0.1:$PORT"
database_url = "sqlite://$dir/bench.db"

[[site]]
id = "$SITE"
origins = ["*"]
moderation = "none"
EOF2
  python3 "$BENCH_DIR/bigthread_export.py" "$SITE" "$SLUG" "$size" "$dir/thread.jsonl" >/dev/null
  "$BIN" import afterword "$dir/thread.jsonl" --site "$SITE" --json --config "$dir/afterword.toml" \
    >"$dir/import.json" 2>"$dir/import.log" || { cat "$dir/import.log" >&2; die "import of $size comments failed"; }
  "$BIN" serve --config "$dir/afterword.toml" >"$dir/server.log" 2>&1 &
  PID[$size]=$!
  for _ in $(seq 1 150); do
    [ "$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' "$B/healthz" || true)" = 200 ] && break
    kill -0 "${PID[$size]}" 2>/dev/null || { tail -20 "$dir/server.log" >&2; die "the server did not start"; }
    sleep 0.2
  done

  # Walk the thread through `next` (oldest first, LIMIT per page): how many
  # pages, the count, and the cursors around the last page for bigthread.lua.
  read -r PAGES COUNT SEEN LAST_AFTER LAST_FROM LAST_TO LAST_LIMIT < <(python3 - "$B" "$SITE" "$SLUG_Q" "$LIMIT" <<'PY'
import base64, json, sys, urllib.request
base, site, slug, limit = sys.argv[1:5]
def get(after):
    url = f"{base}/api/v1/comments?site={site}&slug={slug}&limit={limit}" + (f"&after={after}" if after else "")
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)
pages, seen, after, prev_after, prev_last_top = 0, 0, None, "-", None
while True:
    p = get(after)
    pages += 1
    seen += sum(1 for c in p["comments"] if c["status"] == "approved")
    tops = [c["id"] for c in p["comments"] if c["parent_id"] is None]
    if not p["next"]:
        break
    prev_after, prev_last_top, after = p["next"], tops[-1], p["next"]
if prev_last_top is None:       # one page: the first is the last
    frm, to = 0, 0
else:
    frm, to = prev_last_top, tops[0] - 1
print(pages, p["thread"]["comment_count"], seen, after or "-", frm, to, max(int(limit), len(tops)))
PY
)
  [ "$COUNT" = "$size" ] && [ "$SEEN" = "$size" ] || die "$size comments seeded, but the thread counts $COUNT and its pages show $SEEN"
  FJ="$B/api/v1/comments?site=$SITE&slug=$SLUG_Q&limit=$LIMIT"
  FH="$B/api/v1/comments.html?site=$SITE&slug=$SLUG_Q&limit=$LIMIT"
  FIRST_JSON[$size]="$FJ"; FIRST_HTML[$size]="$FH"
  LFROM[$size]="$LAST_FROM"; LTO[$size]="$LAST_TO"; LLIMIT[$size]="$LAST_LIMIT"
  if [ "$LAST_AFTER" = - ]; then
    LAST_JSON[$size]="$FJ"; LAST_HTML[$size]="$FH"; LAST_MODE[$size]=first
  else
    LAST_JSON[$size]="$FJ&after=$LAST_AFTER"; LAST_HTML[$size]="$FH&after=$LAST_AFTER"; LAST_MODE[$size]=last
  fi
  echo "-- $size comments: $PAGES pages of $LIMIT top-level comments; count $COUNT, seen $SEEN;" \
    "first page $(curl_ -o /dev/null -w '%{size_download}' "$FJ") bytes JSON," \
    "last page $(curl_ -o /dev/null -w '%{size_download}' "${LAST_JSON[$size]}") bytes JSON;" \
    "HTML $(curl_ -o /dev/null -w '%{size_download}' "$FH") and $(curl_ -o /dev/null -w '%{size_download}' "${LAST_HTML[$size]}") bytes," \
    "HTML page from cache: $(curl_ -o /dev/null -D - "$FH" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-afterword-cache" { print $2 }')"
done
echo

for name in $PHASES; do
  for round in $(seq 1 "$ROUNDS"); do
    for size in $(order "$round"); do
      case "$name" in
        # Hot: the page from the server's cache, as most readers get it.
        json-first) phase "$size" "$name" "$round" "${FIRST_JSON[$size]}" ;;
        json-last) phase "$size" "$name" "$round" "${LAST_JSON[$size]}" ;;
        html-first) phase "$size" "$name" "$round" "${FIRST_HTML[$size]}" ;;
        html-last) phase "$size" "$name" "$round" "${LAST_HTML[$size]}" ;;
        # Cold: every request under a new key, so the page is read from the database.
        json-first-cold) phase "$size" "$name" "$round" "${FIRST_JSON[$size]}" first ;;
        json-last-cold) phase "$size" "$name" "$round" "${FIRST_JSON[$size]}" "${LAST_MODE[$size]}" ;;
        html-first-cold) phase "$size" "$name" "$round" "${FIRST_HTML[$size]}" html ;;
        html-last-cold) phase "$size" "$name" "$round" "${LAST_HTML[$size]}" html ;;
      esac
    done
  done
done

if [ "$EMBED_RUNS" != 0 ]; then
  half=$(( (EMBED_RUNS + 1) / 2 ))
  for round in 1 2; do
    for size in $(order "$round"); do
      line="$(printf '%-6s %-16s r%s %s' "$size" embed "$round" "$(node "$BENCH_DIR/bigthread_embed.mjs" "${BASE[$size]}" "$SITE" "$SLUG" "$half")")"
      echo "$line"
      RESULTS+=("$line")
    done
  done
fi

echo
echo "== summary (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${RESULTS[@]}" | sort -s -k1,1n
