#!/usr/bin/env bash
# What webhooks cost a comment write: comment writes per second and their latency with no
# webhook, then with three on the site (two receivers that answer at once, one that
# accepts connections and never answers), in alternating rounds on fresh SQLite databases.
# After each "three" round it also waits for the two live receivers to have every comment
# written, to show the dead endpoint does not hold them up.
#
#   benches/webhooks.sh [path-to-afterword-binary]
#
# Without an argument it runs `cargo build --release` and uses target/release/afterword.
# Environment: SECONDS_PER_ROUND (10), ROUNDS (3), CONCURRENCY (16), and HOOKS: the
# webhooks of the "three" rounds, out of good0, good1 and dead ("good0 good1 dead"; e.g.
# HOOKS=dead measures a dead endpoint alone), RECEIVERS_NICE (19: see below), and RATE:
# unset, the connections post as fast as the server answers (its limit, where every bit
# of CPU a delivery takes is taken from the comments); RATE=1000 posts 1,000 comments a
# second on a fixed schedule instead, and the latencies say what the webhooks cost a
# poster below the limit.
# Needs curl and python3 (standard library only). Only 127.0.0.1 is used.
# See benches/README.md for the figures.
set -euo pipefail
export LC_ALL=C

SECONDS_PER_ROUND="${SECONDS_PER_ROUND:-10}"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-16}"
RATE="${RATE:-}"
HOOKS="${HOOKS:-good0 good1 dead}"
RECEIVERS_NICE="${RECEIVERS_NICE:-19}"
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "webhooks.sh: needs $tool" >&2; exit 2; }
done
if [ $# -ge 1 ]; then
  BIN="$1"
else
  (cd "$REPO_DIR" && cargo build --release --quiet)
  BIN="$REPO_DIR/target/release/afterword"
fi
TMP="$(mktemp -d)"
SERVER_PID=""
RECEIVERS_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$RECEIVERS_PID" ] && kill "$RECEIVERS_PID" 2>/dev/null && wait "$RECEIVERS_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# The receivers stand for services on other machines (a chat service, the blogger's own
# tools): at the lowest CPU priority, what they spend is not taken from the server under
# test on a machine with no idle core. RECEIVERS_NICE=0 puts them beside it as equals.
nice -n "$RECEIVERS_NICE" python3 "$BENCH_DIR/receivers.py" "$TMP" >"$TMP/ports" &
RECEIVERS_PID=$!
for _ in $(seq 1 50); do [ -s "$TMP/ports" ] && break; sleep 0.1; done
read -r GOOD0 GOOD1 DEAD <"$TMP/ports"
SECRET="whsec_$(head -c 32 /dev/urandom | base64 -w0)"

count() { cat "$TMP/good-$1.count" 2>/dev/null || echo 0; }

# run none|three ROUND -> prints the load's JSON line (and, for three, the delivery wait)
run() {
  local hooks="$1" round="$2" port db config url result
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  db="$TMP/$hooks-$round.db"
  config="$TMP/$hooks.toml"
  {
    echo "listen = \"127.0.0.1:$port\""
    echo "database_url = \"sqlite://$db\""
    echo '[outbound]'
    echo 'allow_private_addresses = true'
    echo 'timeout = "10s"'
    echo '[limits]'
    echo 'comments_per_ip_per_minute = 0'
    echo '[spam]'
    echo 'honeypot = false'
    echo 'form_token = false'
    echo 'max_links = 0'
    echo 'duplicates = "0s"'
    echo '[[site]]'
    echo 'id = "bench"'
    echo 'origins = ["*"]'
    if [ "$hooks" = three ]; then
      for h in $HOOKS; do
        case "$h" in good0) p="$GOOD0" ;; good1) p="$GOOD1" ;; dead) p="$DEAD" ;; *) echo "webhooks.sh: HOOKS: $h?" >&2; exit 2 ;; esac
        echo '[[site.webhook]]'
        echo "url = \"http://127.0.0.1:$p/hook\""
        echo "secret = \"$SECRET\""
      done
    fi
  } >"$config"
  RUST_LOG=warn "$BIN" serve --config "$config" >"$TMP/server-$hooks-$round.log" 2>&1 &
  SERVER_PID=$!
  url="http://127.0.0.1:$port/api/v1/comments?site=bench&slug=%2Fbench%2F"
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
  local before0 before1
  before0="$(count 0)"; before1="$(count 1)"
  result="$(python3 "$BENCH_DIR/post_load.py" "$url" "$SECONDS_PER_ROUND" "$CONCURRENCY" "$RATE")"
  if [ "$hooks" = three ]; then
    # Every comment reaches both live receivers; how long after the load stopped.
    local created waited=0
    created="$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['created'])" "$result")"
    local want0=0 want1=0
    case " $HOOKS " in *" good0 "*) want0="$created" ;; esac
    case " $HOOKS " in *" good1 "*) want1="$created" ;; esac
    while [ $(( $(count 0) - before0 )) -lt "$want0" ] || [ $(( $(count 1) - before1 )) -lt "$want1" ]; do
      [ "$waited" -ge 600 ] && break
      sleep 0.1; waited=$((waited + 1))
    done
    result="$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['delivered'] = [int(sys.argv[2]), int(sys.argv[3])]; d['delivered_within_s'] = int(sys.argv[4]) / 10; print(json.dumps(d))" \
      "$result" "$(( $(count 0) - before0 ))" "$(( $(count 1) - before1 ))" "$waited")"
  fi
  # The server's CPU time over the round (load and deliveries): on a machine without
  # idle cores, what deliveries cost in CPU is taken from the comments.
  local ticks
  ticks="$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")"
  result="$(python3 -c "import json,os,sys; d=json.loads(sys.argv[1]); d['server_cpu_s'] = round(int(sys.argv[2]) / os.sysconf('SC_CLK_TCK'), 2); d['cpu_ms_per_comment'] = round(1000 * d['server_cpu_s'] / max(d['created'], 1), 2); print(json.dumps(d))" "$result" "$ticks")"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  echo "$result"
}

echo "== Afterword webhook cost: comment writes, SQLite, ${SECONDS_PER_ROUND}s per round, $CONCURRENCY connections, ${RATE:-as many} comments/s, webhooks: $HOOKS"
echo "commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown), load: $(cut -d' ' -f1-3 /proc/loadavg)"
none=(); three=()
for r in $(seq 1 "$ROUNDS"); do
  # The order alternates, so whatever else the machine does weighs on both alike.
  if [ $((r % 2)) -eq 1 ]; then
    none+=("$(run none "$r")"); three+=("$(run three "$r")")
  else
    three+=("$(run three "$r")"); none+=("$(run none "$r")")
  fi
  echo "round $r: none ${none[-1]}"
  echo "round $r: three ${three[-1]}"
done
HOOKS="$HOOKS" python3 - "$(printf '%s\n' "${none[@]}")" "$(printf '%s\n' "${three[@]}")" <<'EOF'
import json, statistics, sys
none = [json.loads(l) for l in sys.argv[1].splitlines()]
three = [json.loads(l) for l in sys.argv[2].splitlines()]
med = lambda rs, k: statistics.median(r[k] for r in rs)
a, b = med(none, "per_s"), med(three, "per_s")
print(f"median writes/s: no webhook {a:.0f}, with the webhooks {b:.0f}, difference {100 * (b - a) / a:+.1f} %")
for k in ("p50_ms", "p99_ms"):
    x, y = med(none, k), med(three, k)
    print(f"median {k[:3]} latency: no webhook {x:.2f} ms, with the webhooks {y:.2f} ms, difference {100 * (y - x) / x:+.1f} %")
print(f"live receivers had every comment within: {[r['delivered_within_s'] for r in three]} s after the load stopped")
c0, c3 = med(none, "cpu_ms_per_comment"), med(three, "cpu_ms_per_comment")
sent = max(1, len([h for h in __import__("os").environ.get("HOOKS", "good0 good1 dead").split() if h != "dead"]))
print(f"server CPU per comment: {c0} ms without webhooks, {c3} ms with them: {(c3 - c0) / sent:.2f} ms per delivery sent")
EOF
