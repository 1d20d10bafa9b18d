#!/usr/bin/env bash
# What the spam checks cost: comment writes per second with every check off, then with
# every check on (honeypot, form token with a minimum age, link cap, a 200-entry blocked
# list of words and patterns, duplicate text), in alternating rounds on fresh databases.
#
#   benches/spam.sh [path-to-afterword-binary]
#
# Without an argument it runs `cargo build --release` and uses target/release/afterword.
# Environment: DURATION (10s), ROUNDS (3), CONNECTIONS (32), THREADS (2).
# Only 127.0.0.1 is targeted. See benches/README.md for the figures.
set -euo pipefail
export LC_ALL=C

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "spam.sh: needs $tool" >&2; exit 2; }
done
if [ $# -ge 1 ]; then
  BIN="$1"
else
  (cd "$REPO_DIR" && cargo build --release --quiet)
  BIN="$REPO_DIR/target/release/afterword"
fi
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# 200 blocked entries: words, phrases and a few patterns, none in the benchmark's text.
BLOCKED="$(python3 - <<'EOF'
words = [f"spamword{i}" for i in range(180)] + [f"cheap pills {i}" for i in range(15)]
patterns = ["/v[i1]agra/", "/c[a4]s[i1]n[o0]/", "/\\bfree money\\b/", "/crypt[o0] ?giveaway/", "/b[i1]tc[o0][i1]n doubler/"]
print(", ".join('"' + w.replace("\\", "\\\\") + '"' for w in words + patterns))
EOF
)"

# run ROUND on|off -> prints writes/s
run() {
  local checks="$1" round="$2" port db config url token out
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  db="$TMP/$checks-$round.db"
  config="$TMP/$checks.toml"
  {
    echo "listen = \"127.0.0.1:$port\""
    echo "database_url = \"sqlite://$db\""
    echo '[[site]]'
    echo 'id = "bench"'
    echo 'origins = ["*"]'
    echo '[limits]'
    echo 'comments_per_ip_per_minute = 0'
    echo '[spam]'
    if [ "$checks" = on ]; then
      echo 'honeypot = true'
      echo 'form_token = true'
      echo 'min_seconds = 1'
      echo 'max_links = 5'
      echo 'duplicates = "10m"'
      echo "blocked = [$BLOCKED]"
    else
      echo 'honeypot = false'
      echo 'form_token = false'
      echo 'max_links = 0'
      echo 'duplicates = "0s"'
    fi
  } >"$config"
  RUST_LOG=warn "$BIN" serve --config "$config" >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  url="http://127.0.0.1:$port/api/v1/comments?site=bench&slug=%2Fbench%2F"
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
  token=""
  if [ "$checks" = on ]; then
    token="$(curl -sf -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "afterword-form" {print $2}')"
    sleep 1.1
  fi
  out="$TMP/wrk-$checks-$round.out"
  AFTERWORD_FORM_TOKEN="$token" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" \
    -s "$BENCH_DIR/write.lua" "$url" >"$out" 2>&1
  local created seconds stored
  created="$(sed -n 's/^AFTERWORD_WRITES .*created=\([0-9]*\).*/\1/p' "$out")"
  seconds="$(python3 -c "import re,sys; d='$DURATION'; m=re.match(r'(\d+)([smh]?)', d); print(int(m[1]) * {'':1,'s':1,'m':60,'h':3600}[m[2]])")"
  # Every write must have passed the checks: approved and counted, none filed as spam.
  stored="$(curl -sf "http://127.0.0.1:$port/api/v1/counts?site=bench&slug=%2Fbench%2F" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["/bench/"])')"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  if [ "$stored" -lt "$created" ]; then
    echo "spam.sh: $checks round $round: $created created but only $stored counted" >&2
    exit 1
  fi
  python3 -c "print(f'{$created / $seconds:.0f}')"
}

echo "== Afterword spam-check cost: comment writes/s, SQLite, $DURATION per round, $CONNECTIONS connections"
echo "commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
off=(); on=()
for r in $(seq 1 "$ROUNDS"); do
  off+=("$(run off "$r")")
  on+=("$(run on "$r")")
  echo "round $r: checks off ${off[-1]}/s, checks on ${on[-1]}/s"
done
python3 - "${off[*]}" "${on[*]}" <<'EOF'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
mo, mn = statistics.median(off), statistics.median(on)
print(f"median: checks off {mo:.0f}/s, checks on {mn:.0f}/s, cost {100 * (mo - mn) / mo:+.1f} %")
EOF
