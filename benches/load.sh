#!/usr/bin/env bash
# Load benchmark for Afterword. See benches/README.md.
#
#   benches/load.sh [path-to-afterword-binary]
#
# Without an argument it runs `cargo build --release` and uses target/release/afterword.
# Environment: DURATION (10s), CONNECTIONS (32), THREADS (2), WRK_TIMEOUT (5s),
#              BACKEND_URL (postgres://user@127.0.0.1:5432, optional), RUST_LOG (warn),
#              VERBOSE (0; 1 prints wrk's full output), KEEP_TMP (0; 1 keeps the temp dir),
#              SQLITE_SYNC (normal; full measures power-loss-safe commits).
# Only 127.0.0.1 is ever targeted. Exits 1 if the write check fails or the server dies.
set -euo pipefail
export LC_ALL=C

DURATION="${DURATION:-10s}"
AB_DURATION="${AB_DURATION:-3s}"
AB_ROUNDS="${AB_ROUNDS:-4}"
CHURN_DURATION="${CHURN_DURATION:-40s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
VERBOSE="${VERBOSE:-0}"
KEEP_TMP="${KEEP_TMP:-0}"
SQLITE_SYNC="${SQLITE_SYNC:-normal}"
case "$SQLITE_SYNC" in normal|full) ;; *) echo "SQLITE_SYNC must be normal or full" >&2; exit 1 ;; esac
SITE="bench"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"

die() { echo "load.sh: $*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
[ $# -le 1 ] || die "usage: benches/load.sh [path-to-afterword-binary]"

if ! command -v wrk >/dev/null 2>&1; then
  echo "load.sh: wrk is not installed. Install it with:  apt-get install -y wrk" >&2
  exit 1
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required but not installed"
done
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer (got '$CONNECTIONS')"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer (got '$THREADS')"
[ "$CONNECTIONS" -ge "$THREADS" ] || die "CONNECTIONS ($CONNECTIONS) must be >= THREADS ($THREADS)"
[[ "$DURATION" =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION must look like 10s, 1m or 30 (got '$DURATION')"

# The server must read only the config written below.
unset AFTERWORD_LISTEN AFTERWORD_DATABASE_URL AFTERWORD_PUBLIC_URL
export RUST_LOG="${RUST_LOG:-warn}"

# ---------------------------------------------------------------- binary
if [ $# -eq 1 ]; then
  BIN="$1"
else
  echo "load.sh: building release binary (cargo build --release) ..." >&2
  (cd "$REPO_DIR" && cargo build --release) >&2
  BIN="$REPO_DIR/target/release/afterword"
fi
if [ ! -f "$BIN" ] || [ ! -x "$BIN" ]; then die "not an executable file: $BIN"; fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# The limit reads are measured against, in the same run: benches/bare_handler/, a bare
# actix-web handler answering the same bytes from memory, a package of its own (so this
# builds actix-web alone). BARE=path skips the build.
if [ -n "${BARE:-}" ]; then
  BARE_BIN="$BARE"
else
  echo "load.sh: building the bare handler (cargo build --release in benches/bare_handler) ..." >&2
  (cd "$BENCH_DIR/bare_handler" && CARGO_TARGET_DIR="$REPO_DIR/target/bare-handler" \
    cargo build --release --locked) >&2
  BARE_BIN="$REPO_DIR/target/bare-handler/release/bare_handler"
fi
[ -n "$BARE_BIN" ] && [ -x "$BARE_BIN" ] || die "no bare handler binary (got '$BARE_BIN'); set BARE=path"

# ---------------------------------------------------------------- temp dir, cleanup
TMP="$(mktemp -d "${TMPDIR:-/tmp}/afterword-bench.XXXXXX")"
SERVER_PID=""
BARE_PID=""
PG_ADMIN_URL=""
PG_DB=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ -n "$BARE_PID" ]; then
    kill -TERM "$BARE_PID" 2>/dev/null
    wait "$BARE_PID" 2>/dev/null
  fi
  if [ -n "$PG_DB" ]; then
    psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 \
      || echo "load.sh: WARNING: could not drop database $PG_DB" >&2
  fi
  if [ "$KEEP_TMP" = 1 ]; then
    echo "load.sh: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

curl_() { curl --noproxy '*' -sS --max-time 30 "$@"; }

server_log_tail() {
  echo "---- last 30 lines of the server log ($TMP/server.log):" >&2
  tail -n 30 "$TMP/server.log" >&2 || true
  echo "----" >&2
}
die_server() { echo "load.sh: $*" >&2; server_log_tail; exit 1; }
check_alive() {
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  local rc=0
  wait "$SERVER_PID" 2>/dev/null || rc=$?
  SERVER_PID=""
  die_server "the server has exited (exit status $rc)"
}

proc_kib() { # proc_kib FIELD -> value in KiB from /proc/PID/status, or empty
  awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true
}
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "?"; else printf "%.1f", k / 1024 }'; }
# mem_line -> "VmRSS = N MiB (heap and stacks A, files F), VmHWM = H MiB": RssAnon is what
# the process allocated; RssFile is mostly the program's own code, paged in as it runs.
mem_line() {
  echo "VmRSS = $(mib "$(proc_kib VmRSS)") MiB (anon $(mib "$(proc_kib RssAnon)"), file $(mib "$(proc_kib RssFile)")), VmHWM = $(mib "$(proc_kib VmHWM)") MiB"
}

# ---------------------------------------------------------------- database
if [ -n "${BACKEND_URL:-}" ]; then
  command -v psql >/dev/null 2>&1 || die "BACKEND_URL is set but psql is not installed"
  PG_DB="afterword_bench_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  # Split BACKEND_URL (postgres://user[:pass]@127.0.0.1[:port][?params]) into an admin
  # URL (database "postgres") and the server URL (the fresh database); loopback only.
  urls="$(python3 - "$BACKEND_URL" "$PG_DB" <<'PY'
import ipaddress, sys, urllib.parse
url, db = sys.argv[1], sys.argv[2]
u = urllib.parse.urlsplit(url)
if u.scheme not in ("postgres", "postgresql"):
    sys.exit("BACKEND_URL must start with postgres:// (got %r)" % url)
host = u.hostname or ""
try:
    loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
except ValueError:
    loopback = False
if not loopback:
    sys.exit("BACKEND_URL must point at a loopback address such as 127.0.0.1 (got host %r)" % host)
if u.path not in ("", "/"):
    sys.exit("BACKEND_URL must not name a database (the script creates one): %r" % url)
print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/postgres", u.query, "")))
print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + db, u.query, "")))
PY
)" || { PG_DB=""; die "bad BACKEND_URL"; }
  PG_ADMIN_URL="$(sed -n 1p <<<"$urls")"
  DATABASE_URL="$(sed -n 2p <<<"$urls")"
  psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null \
    || { PG_DB=""; die "could not create database via $PG_ADMIN_URL"; }
  BACKEND_DESC="postgres (fresh database $PG_DB, dropped at exit)"
else
  DATABASE_URL="sqlite://$TMP/bench.db"
  BACKEND_DESC="sqlite ($TMP/bench.db)"
fi

# ---------------------------------------------------------------- config, server
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
CONFIG="$TMP/afterword.toml"
toml_str() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }
cat >"$CONFIG" <<EOF
listen = $(toml_str "127.0.0.1:$PORT")
database_url = $(toml_str "$DATABASE_URL")
sqlite_synchronous = "$SQLITE_SYNC"

[[site]]
id = "$SITE"
origins = ["*"]
moderation = "none"

[limits]
comments_per_ip_per_minute = 0
reactions_per_ip_per_minute = 0

# The writes carry a form token and distinct bodies, so they pass the spam checks (which
# run on every write: benches/spam.sh measures what they cost).
[spam]
min_seconds = 0
EOF

GIT_COMMIT="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "unknown (no commit)")"
if [ "$GIT_COMMIT" != "unknown (no commit)" ] && [ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -1)" ]; then
  GIT_COMMIT="$GIT_COMMIT-dirty"
fi
echo "== Afterword load benchmark"
echo "date:     $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "cpus:     $(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
echo "commit:   $GIT_COMMIT"
echo "binary:   $BIN"
echo "backend:  $BACKEND_DESC (sqlite_synchronous = $SQLITE_SYNC)"
echo "wrk:      $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'); threads=$THREADS connections=$CONNECTIONS duration=$DURATION per phase, timeout=$WRK_TIMEOUT"
echo "server:   $BASE (RUST_LOG=$RUST_LOG)"
echo

"$BIN" serve --config "$CONFIG" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

deadline=$((SECONDS + 30))
while :; do
  code="$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz" 2>/dev/null || true)"
  [ "$code" = 200 ] && break
  check_alive
  [ "$SECONDS" -lt "$deadline" ] || die_server "GET /healthz did not return 200 within 30s (last: $code)"
  sleep 0.2
done
echo "server up (pid $SERVER_PID), GET /healthz = 200"
echo "memory at start: $(mem_line)"

# ---------------------------------------------------------------- seed
python3 "$BENCH_DIR/seed.py" "$BASE" "$SITE" || die_server "seeding failed"
check_alive
echo "RSS after seeding = $(mib "$(proc_kib VmRSS)") MiB; $(mem_line)"
echo

# ---------------------------------------------------------------- wrk helpers
SUMMARY=()

# run_wrk NAME ARGS... : runs wrk, leaves its output in $TMP/NAME.out
run_wrk() {
  local name="$1"; shift
  local out="$TMP/$name.out"
  local shown=() a
  for a in "$@"; do
    if [ "${#a}" -gt 140 ]; then shown+=("${a:0:120}...(${#a} chars)"); else shown+=("$a"); fi
  done
  echo "-- $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT --latency ${shown[*]}"
  if ! wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency "$@" >"$out" 2>&1; then
    cat "$out" >&2
    die_server "wrk failed in phase $name"
  fi
  if [ "$VERBOSE" = 1 ]; then sed 's/^/   | /' "$out"; fi
  check_alive
}

# parse_wrk FILE -> "requests rps p50_ms p99_ms non2xx connect read write timeout"
parse_wrk() {
  awk '
    function ms(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000
      if (u == "ms") return n
      if (u == "s")  return n * 1000
      if (u == "m")  return n * 60000
      if (u == "h")  return n * 3600000
      return -1
    }
    BEGIN { req = 0; rps = 0; p50 = -1; p99 = -1; non2xx = 0; c = 0; r = 0; w = 0; t = 0; dist = 0 }
    /Latency Distribution/ { dist = 1; next }
    dist && $1 == "50%" { p50 = ms($2) }
    dist && $1 == "99%" { p99 = ms($2); dist = 0 }
    / requests in / { req = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ {
      line = $0; gsub(/,/, "", line); nf = split(line, f, " ")
      for (i = 1; i <= nf; i++) {
        if (f[i] == "connect") c = f[i+1]; if (f[i] == "read") r = f[i+1]
        if (f[i] == "write") w = f[i+1];   if (f[i] == "timeout") t = f[i+1]
      }
    }
    END { printf "%d %s %.2f %.2f %d %d %d %d %d\n", req, rps, p50, p99, non2xx, c, r, w, t }
  ' "$1"
}

# summarize NAME FILE [NON_OK_OVERRIDE] : prints and records the one-line summary
summarize() {
  local name="$1" file="$2" override="${3:-}"
  local req rps p50 p99 non2xx c r w t
  read -r req rps p50 p99 non2xx c r w t < <(parse_wrk "$file")
  [ -n "$override" ] && non2xx="$override"
  local sock=$((c + r + w + t))
  local errors=$((non2xx + sock))
  local line
  line="$(printf '%-13s req/s=%-9.1f p50=%sms  p99=%sms  requests=%d  errors=%d' \
    "$name" "$rps" "$p50" "$p99" "$req" "$errors")"
  if [ "$errors" -ne 0 ]; then
    line="$line (bad-status=$non2xx connect=$c read=$r write=$w timeout=$t)"
  fi
  echo "$line"
  SUMMARY+=("$line")
  echo "memory after $name: $(mem_line)"
}

# ab_compare NAME_A URL_A NAME_B URL_B [WRK_ARGS...]: one phase after the other is at the
# mercy of whatever else the machine does meanwhile, so this alternates short runs
# (AB_DURATION) of A and B, AB_ROUNDS times each, in ABBA order, and sets AB_A and AB_B to
# their mean req/s and AB_RATIO to B / A. WRK_ARGS go to both (e.g. -H ...); the array
# AB_B_ARGS, if set, to B alone (e.g. -s script.lua).
AB_B_ARGS=()
ab_compare() {
  local na="$1" ua="$2" nb="$3" ub="$4"; shift 4
  local saved="$DURATION" sum_a=0 sum_b=0 round ra rb
  DURATION="$AB_DURATION"
  for round in $(seq 1 "$AB_ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
      run_wrk "ab-$na-$round" "$@" "$ua" >/dev/null
      run_wrk "ab-$nb-$round" "$@" "${AB_B_ARGS[@]}" "$ub" >/dev/null
    else
      run_wrk "ab-$nb-$round" "$@" "${AB_B_ARGS[@]}" "$ub" >/dev/null
      run_wrk "ab-$na-$round" "$@" "$ua" >/dev/null
    fi
    read -r _ ra _ < <(parse_wrk "$TMP/ab-$na-$round.out")
    read -r _ rb _ < <(parse_wrk "$TMP/ab-$nb-$round.out")
    sum_a="$(python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$sum_a" "$ra")"
    sum_b="$(python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$sum_b" "$rb")"
    echo "$na / $nb round $round: $ra / $rb req/s"
  done
  DURATION="$saved"
  read -r AB_A AB_B AB_RATIO < <(python3 -c 'import sys; a, b, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print("%.1f %.1f %.3f" % (a / n, b / n, b / a if a else 0))' "$sum_a" "$sum_b" "$AB_ROUNDS")
}

# verdict RATIO TARGET -> "OK" or "BELOW TARGET"
verdict_of() { python3 -c 'import sys; print("OK" if float(sys.argv[1]) >= float(sys.argv[2]) else "BELOW TARGET")' "$1" "$2"; }

urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# ---------------------------------------------------------------- phase 1: thread reads
READ_URL="$BASE/api/v1/comments?site=$SITE&slug=$(urlenc /bench/thread/)&limit=200"
read -r code size < <(curl_ -o /dev/null -w '%{http_code} %{size_download}\n' "$READ_URL")
gz="$(curl_ -o /dev/null -H 'Accept-Encoding: gzip' -w '%{size_download}' "$READ_URL" || true)"
br="$(curl_ -o /dev/null -H 'Accept-Encoding: gzip, br' -w '%{size_download}' "$READ_URL" || true)"
echo "thread-read response: HTTP $code, $size bytes plain, $gz gzip, $br brotli"
[ "$code" = 200 ] || echo "WARNING: thread read did not return 200"
run_wrk thread-read "$READ_URL"
summarize thread-read "$TMP/thread-read.out"
echo

# ------------------------------------------- phase 1r: the same reads, with reactions
# A thread like /bench/thread/ whose every comment carries reactions (5 each, 3 kinds)
# and whose post has 12: its counts come from the counters with the page, which stays
# in memory, so it must read within 10 % of the thread without reactions.
RX_URL="$BASE/api/v1/comments?site=$SITE&slug=$(urlenc /bench/reacted/)&limit=200"
python3 "$BENCH_DIR/seed.py" "$BASE" "$SITE" --thread /bench/reacted/ || die_server "seeding /bench/reacted/ failed"
python3 "$BENCH_DIR/react_seed.py" "$BASE" "$SITE" /bench/reacted/ || die_server "seeding reactions failed"
read -r code size < <(curl_ -o /dev/null -w '%{http_code} %{size_download}\n' "$RX_URL")
echo "thread-read-rx response: HTTP $code, $size bytes plain"
run_wrk thread-read-rx "$RX_URL"
summarize thread-read-rx "$TMP/thread-read-rx.out"
# Compared in alternating rounds (ab_compare): within 10 % of the plain thread.
ab_compare plain "$READ_URL" rx "$RX_URL"
rx_line="$(printf 'reactions-read with/without reactions = %s (%s alternating rounds: %s vs %s req/s) => %s' \
  "$AB_RATIO" "$AB_ROUNDS" "$AB_B" "$AB_A" "$( [ "$(verdict_of "$AB_RATIO" 0.9)" = OK ] && echo OK || echo 'SLOWER THAN 10 %')")"
echo "$rx_line"
SUMMARY+=("$rx_line")
echo

# ------------------------------------------------ phase 1a: the same reads, compressed
# As browsers ask: the page is compressed once when first asked for, then served as is.
run_wrk thread-read-br -H "Accept-Encoding: gzip, deflate, br" "$READ_URL"
summarize thread-read-br "$TMP/thread-read-br.out"
echo

# ------------------------------------------- phase 1c: against the limit, the bare handler
# benches/bare_handler/ serves the bytes of this very answer (plain, brotli, gzip) from
# memory with the same headers and no routing, middleware or cache: what actix-web and the
# network alone allow on this machine. Both run now, in alternating rounds.
curl_ -o "$TMP/bare.plain" "$READ_URL"
curl_ -o "$TMP/bare.br" -H 'Accept-Encoding: br' "$READ_URL"
curl_ -o "$TMP/bare.gz" -H 'Accept-Encoding: gzip' "$READ_URL"
BARE_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"$BARE_BIN" "127.0.0.1:$BARE_PORT" "$TMP/bare.plain" "$TMP/bare.br" "$TMP/bare.gz" >"$TMP/bare.log" 2>&1 &
BARE_PID=$!
BARE_URL="http://127.0.0.1:$BARE_PORT/api/v1/comments?site=$SITE&slug=$(urlenc /bench/thread/)&limit=200"
for _ in $(seq 1 50); do
  curl --noproxy '*' -s -o /dev/null --max-time 1 "$BARE_URL" && break
  sleep 0.1
done
read -r code size < <(curl_ -o /dev/null -w '%{http_code} %{size_download}\n' "$BARE_URL")
bare_br="$(curl_ -o /dev/null -H 'Accept-Encoding: gzip, deflate, br' -w '%{size_download}' "$BARE_URL")"
echo "bare handler (pid $BARE_PID): HTTP $code, $size bytes plain, $bare_br brotli"
ab_compare bare "$BARE_URL" afterword "$READ_URL"
bare_line="$(printf 'read-vs-bare   plain: %s / %s req/s = %s of the bare handler (target 0.9) => %s' \
  "$AB_B" "$AB_A" "$AB_RATIO" "$(verdict_of "$AB_RATIO" 0.9)")"
echo "$bare_line"
SUMMARY+=("$bare_line")
ab_compare bare-br "$BARE_URL" afterword-br "$READ_URL" -H "Accept-Encoding: gzip, deflate, br"
bare_line="$(printf 'read-vs-bare   brotli: %s / %s req/s = %s of the bare handler (target 0.9) => %s' \
  "$AB_B" "$AB_A" "$AB_RATIO" "$(verdict_of "$AB_RATIO" 0.9)")"
echo "$bare_line"
SUMMARY+=("$bare_line")
kill -TERM "$BARE_PID" 2>/dev/null; wait "$BARE_PID" 2>/dev/null || true; BARE_PID=""
echo

# ---------------------------------------------------- phase 1b: thread reads while it grows
# 1 request in 100 posts a comment to the thread being read, so pages are rebuilt.
MIXED_URL="$BASE/api/v1/comments?site=$SITE&slug=$(urlenc /bench/mixed/)&limit=200"
python3 "$BENCH_DIR/seed.py" "$BASE" "$SITE" --thread /bench/mixed/ || die_server "seeding /bench/mixed/ failed"
form_token_of() { curl -sf -D - -o /dev/null "$1" | tr -d '\r' | awk -F': ' 'tolower($1) == "afterword-form" {print $2}'; }
MIXED_TOKEN="$(form_token_of "$MIXED_URL")"
AFTERWORD_FORM_TOKEN="$MIXED_TOKEN" run_wrk thread-mixed -s "$BENCH_DIR/mixed.lua" "$MIXED_URL"
summarize thread-mixed "$TMP/thread-mixed.out"
# Against plain reads of /bench/thread/, in alternating rounds (the mixed thread grows
# meanwhile, to the page's 200 top-level comments).
AB_B_ARGS=(-s "$BENCH_DIR/mixed.lua")
AFTERWORD_FORM_TOKEN="$MIXED_TOKEN" ab_compare read "$READ_URL" mixed "$MIXED_URL"
AB_B_ARGS=()
mixed_line="$(printf 'mixed-vs-read  %s / %s req/s = %s of plain reads while 1 in 100 posts (target 0.6) => %s' \
  "$AB_B" "$AB_A" "$AB_RATIO" "$(verdict_of "$AB_RATIO" 0.6)")"
echo "$mixed_line"
SUMMARY+=("$mixed_line")
echo

# ---------------------------------------------------------------- phase 2: counts of 100 slugs
COUNTS_URL="$BASE/api/v1/counts?site=$SITE"
for i in $(seq 1 100); do COUNTS_URL="$COUNTS_URL&slug=%2Fbench%2Fpost-$i%2F"; done
read -r code size < <(curl_ -o /dev/null -w '%{http_code} %{size_download}\n' "$COUNTS_URL")
echo "count-100 request: ${#COUNTS_URL}-char URL; response: HTTP $code, $size bytes"
[ "$code" = 200 ] || echo "WARNING: counts request did not return 200"
run_wrk count-100 "$COUNTS_URL"
summarize count-100 "$TMP/count-100.out"
echo

# ------------------------------------------- phase 2a: a flood of keys never asked before
# Unknown threads, counts of unknown slugs, and pages of the hot thread after unused
# cursors with random limits; one request in ten reads the hot thread. Memory must stay
# bounded, and the hot thread must still be answered from memory afterwards.
DURATION_SAVED="$DURATION"; DURATION="$CHURN_DURATION"
run_wrk churn -s "$BENCH_DIR/churn.lua" "$READ_URL"
DURATION="$DURATION_SAVED"
summarize churn "$TMP/churn.out"
read -r churn_requests _ < <(parse_wrk "$TMP/churn.out")
echo "churn: about $((churn_requests * 9 / 10)) distinct unknown keys asked for"
hot_cache="$(curl_ -o /dev/null -D - "$READ_URL" | tr -d '\r' | sed -n 's/^x-afterword-cache: //Ip')"
echo "churn: the hot thread after the flood: x-afterword-cache: ${hot_cache:-?}"
SUMMARY+=("churn         $((churn_requests * 9 / 10)) unknown keys; hot thread then a cache ${hot_cache:-?}; VmHWM so far $(mib "$(proc_kib VmHWM)") MiB")
echo

# ---------------------------------------------------------------- phase 3: comment writes
WRITES_SLUG="/bench/writes/"
WRITE_URL="$BASE/api/v1/comments?site=$SITE&slug=$(urlenc "$WRITES_SLUG")"
stored_writes() {
  curl_ "$BASE/api/v1/counts?site=$SITE&slug=$(urlenc "$WRITES_SLUG")" \
    | python3 -c 'import json, sys; print(int(json.load(sys.stdin)["counts"].get(sys.argv[1], 0)))' "$WRITES_SLUG"
}
before="$(stored_writes)" || die_server "GET /api/v1/counts for $WRITES_SLUG failed"
[ "$before" = 0 ] || die_server "$WRITES_SLUG already has $before comments before the write phase"
export AFTERWORD_KEYS_FILE="$TMP/write-keys.txt"
AFTERWORD_FORM_TOKEN="$(form_token_of "$WRITE_URL")"
export AFTERWORD_FORM_TOKEN
[ -n "$AFTERWORD_FORM_TOKEN" ] || die_server "the thread answer carried no Afterword-Form token"
run_wrk comment-write -s "$BENCH_DIR/write.lua" "$WRITE_URL"
unset AFTERWORD_KEYS_FILE
wline="$(grep '^AFTERWORD_WRITES ' "$TMP/comment-write.out" || true)"
[ -n "$wline" ] || { cat "$TMP/comment-write.out" >&2; die_server "write.lua printed no AFTERWORD_WRITES line"; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$wline"; }
sent="$(kv sent)"; created="$(kv created)"; non201="$(kv non201)"; nokey="$(kv nokey)"; statuses="$(kv statuses)"
summarize comment-write "$TMP/comment-write.out" "$non201"
echo "comment-write statuses seen by wrk: $statuses"
[ "$nokey" = 0 ] || echo "WARNING: $nokey 201 responses did not echo the request key in comment.html"

# Requests cut off at the end of the run may still be committing: wait (max 10s) until
# the stored count stops changing.
stored=-1
for _ in $(seq 1 20); do
  now="$(stored_writes)" || die_server "GET /api/v1/counts for $WRITES_SLUG failed"
  [ "$now" = "$stored" ] && break
  stored="$now"
  sleep 0.5
done
upper=$((sent - non201))
if [ "$created" -le "$stored" ] && [ "$stored" -le "$upper" ]; then verdict=OK; else verdict=MISMATCH; fi
echo "write check: 201 responses seen by wrk = $created; stored (GET /api/v1/counts $WRITES_SLUG) = $stored;"
echo "             requests sent by wrk = $sent, of which answered with non-201 = $non201"
echo "write check: checked  201-seen ($created) <= stored ($stored) <= sent - non-201 ($sent - $non201 = $upper)  => $verdict"
SUMMARY+=("write-check   201-seen=$created stored=$stored sent=$sent non201=$non201 => $verdict")
load_hwm="$(proc_kib VmHWM)"
SUMMARY+=("peak RSS during the load phases = $(mib "$load_hwm") MiB")
# Exact check: every key answered 201 is stored once, nothing unsent is stored.
if kline="$(python3 "$BENCH_DIR/check_writes.py" "$BASE" "$SITE" "$WRITES_SLUG" "$TMP/write-keys.txt" "$stored")"; then
  kverdict=OK
else
  kverdict=MISMATCH
fi
echo "$kline"
SUMMARY+=("$kline")
[ "$kverdict" = OK ] || verdict=MISMATCH

# The limit writes are measured against, in the same run: the database alone storing the
# same rows (the thread's counter, the comment, its event) with no server in front, for
# as long as the write phase ran, into a thread of its own. SQLite: benches/db_alone.py,
# transactions of 64 comments; PostgreSQL: benches/pg_alone.sh (pgbench), the better of
# pipelined transactions of 64 and one transaction per comment from 32 clients.
write_rps="$(parse_wrk "$TMP/comment-write.out" | awk '{ print $2 }')"
alone_secs="$(awk -v d="$DURATION" 'BEGIN { n = d + 0; if (d ~ /m$/) n *= 60; if (d ~ /h$/) n *= 3600; print n }')"
if [ -n "${BACKEND_URL:-}" ]; then
  alone_out="$(bash "$BENCH_DIR/pg_alone.sh" "$DATABASE_URL" "$alone_secs")" || die "pg_alone.sh failed"
  echo "$alone_out"
  alone_rate="$(sed -n 's/^AFTERWORD_ALONE best rate=//p' <<<"$alone_out")"
  alone_how="PostgreSQL alone, pgbench"
else
  alone_out="$(SYNC="$SQLITE_SYNC" python3 "$BENCH_DIR/db_alone.py" "$TMP/bench.db" "$alone_secs")" || die "db_alone.py failed"
  echo "$alone_out"
  alone_rate="$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$alone_out")"
  alone_how="SQLite alone, Python's sqlite3, transactions of 64"
fi
wl_line="$(awk -v w="$write_rps" -v a="$alone_rate" -v how="$alone_how" 'BEGIN {
  printf "write-vs-db   comment-write %.0f/s, the database alone %.0f/s (%s): ratio %.3f", w, a, how, (a > 0 ? w / a : 0) }')"
echo "$wl_line"
SUMMARY+=("$wl_line")
echo

# ---------------------------------------------------------------- phase 4: reaction toggles
# benches/react.lua: every request turns 👍 on for the post of /bench/toggles/, each
# visitor twice. Afterwards the stored count must lie between the visitors answered 200
# (at least half the 200s) and the visitors sent, and the counter must equal the rows.
TOGGLE_SLUG="/bench/toggles/"
TOGGLE_Q="site=$SITE&slug=$(urlenc "$TOGGLE_SLUG")"
run_wrk reaction-toggle -s "$BENCH_DIR/react.lua" "$BASE/api/v1/reactions?$TOGGLE_Q"
tline="$(grep '^AFTERWORD_TOGGLES ' "$TMP/reaction-toggle.out" || true)"
[ -n "$tline" ] || { cat "$TMP/reaction-toggle.out" >&2; die_server "react.lua printed no AFTERWORD_TOGGLES line"; }
tkv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$tline"; }
t_sent="$(tkv sent)"; t_ok="$(tkv ok)"; t_non200="$(tkv non200)"; t_visitors="$(tkv visitors)"
summarize reaction-toggle "$TMP/reaction-toggle.out" "$t_non200"
echo "reaction-toggle statuses seen by wrk: $(tkv statuses)"
stored_toggles() {
  curl_ "$BASE/api/v1/counts?$TOGGLE_Q&reactions=1" \
    | python3 -c 'import json, sys; print(int(json.load(sys.stdin)["reactions"].get(sys.argv[1], 0)))' "$TOGGLE_SLUG"
}
t_stored=-1
for _ in $(seq 1 20); do
  now="$(stored_toggles)" || die_server "GET /api/v1/counts?reactions=1 for $TOGGLE_SLUG failed"
  [ "$now" = "$t_stored" ] && break
  t_stored="$now"
  sleep 0.5
done
# The rows and the counter, read from the database itself.
sql_number() {
  if [ -n "${BACKEND_URL:-}" ]; then
    psql "$DATABASE_URL" -X -q -t -A -c "$1"
  else
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$TMP/bench.db" "$1"
  fi
}
thread_sql="(SELECT id FROM threads WHERE site = '$SITE' AND slug = '$TOGGLE_SLUG')"
t_rows="$(sql_number "SELECT COUNT(*) FROM reactions WHERE thread_id = $thread_sql")"
t_counter="$(sql_number "SELECT COALESCE(SUM(count), 0) FROM reaction_counts WHERE thread_id = $thread_sql")"
t_lower=$(((t_ok + 1) / 2))
if [ "$t_lower" -le "$t_stored" ] && [ "$t_stored" -le "$t_visitors" ] && [ "$t_rows" = "$t_stored" ] && [ "$t_counter" = "$t_stored" ]; then
  t_verdict=OK
else
  t_verdict=MISMATCH
fi
t_line="toggle-check  200-seen=$t_ok (>= $t_lower visitors) stored=$t_stored rows=$t_rows counter=$t_counter visitors-sent=$t_visitors non200=$t_non200 => $t_verdict"
echo "$t_line"
SUMMARY+=("$t_line")
[ "$t_verdict" = OK ] || verdict=MISMATCH
echo

# ---------------------------------------------------------------- memory, summary
check_alive
hwm="$(proc_kib VmHWM)"; rss="$(proc_kib VmRSS)"
echo "peak RSS = $(mib "$hwm") MiB   (VmHWM, including the read-back of every written comment; VmRSS now = $(mib "$rss") MiB)"
SUMMARY+=("peak RSS overall (load + read-back check) = $(mib "$hwm") MiB")
if [ -z "${BACKEND_URL:-}" ]; then
  if [ -e "$TMP/bench.db" ]; then
    echo "database size: $(du -ck "$TMP"/bench.db* | awk 'END { printf "%.1f MiB", $1 / 1024 }') (bench.db + WAL/SHM files)"
  fi
fi
echo
echo "== summary ($DURATION per phase, $CONNECTIONS connections, $THREADS threads, $(nproc) cpus, commit $GIT_COMMIT)"
printf '%s\n' "${SUMMARY[@]}"

[ "$verdict" = OK ] || exit 1
