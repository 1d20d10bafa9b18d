#!/usr/bin/env bash
# Two of issue 26's targets on a database of 100,000 comments (SQLite):
#
# 1. counts: `POST /api/v1/counts` asking for 1,000 slugs at once (an index page of a big
#    blog, the most the API takes), under wrk: req/s and latency. Target: 10,000 req/s.
# 2. cold start: the server stopped and started again, then the first read of a thread
#    (never read before by that process), and the time from starting the process to its
#    first answer. Target: the first read under 20 ms.
#
#   benches/coldcounts.sh [path-to-afterword-binary]
#
# Without an argument it uses target/release/afterword. Environment: THREADS (1000: how
# many threads, 100 comments each), STARTS (5: restarts for the cold-start figures),
# DURATION (10s), CONNECTIONS (32). Needs wrk, curl and python3. Only 127.0.0.1 is used.
# The operating system's page cache is dropped before each start when this is allowed
# (root, a writable /proc/sys/vm/drop_caches); the output says whether it was.
set -euo pipefail
export LC_ALL=C

THREADS="${THREADS:-1000}"
STARTS="${STARTS:-5}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
BIN="${1:-$REPO_DIR/target/release/afterword}"
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "coldcounts.sh: needs $tool" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "coldcounts.sh: no binary at $BIN (cargo build --release)" >&2; exit 2; }
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
B="http://127.0.0.1:$PORT"
cat >"$TMP/afterword.toml" <<EOF
listen = "127.0.0.1:$PORT"
database_url = "sqlite://$TMP/bench.db"

[limits]
comments_per_ip_per_minute = 0

[[site]]
id = "bench"
origins = ["*"]
moderation = "none"
EOF

# An Afterword export: THREADS posts of 100 comments each (10 top-level comments with 9
# replies, about 300 characters of Markdown each), all approved.
python3 - "$THREADS" "$TMP/export.jsonl" "$TMP/counts.json" <<'PY'
import json, sys
threads, out, body_out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
PARENT = [0, 0, 0, 1, 3, 4, 0, 6, 2, 8]
TEXT = ("A comment of the bench, with *some* Markdown and a [link](https://example.org/)."
        " It goes on a little, as readers' comments do, to be about the size of a real one:"
        " a few sentences that say something about the post and quote `a bit of code`.")
n = 0
with open(out, "w", encoding="utf-8") as f:
    w = lambda v: f.write(json.dumps(v) + "\n")
    w({"format": "afterword-export", "version": 1, "site": "bench"})
    for p in range(threads):
        w({"type": "thread", "slug": f"/post-{p}/", "title": f"Post {p}", "url": None,
           "locked": False, "created_at": "2020-01-01T00:00:00Z", "reactions": {}})
        for t in range(10):
            for j in range(10):
                n += 1
                day, sec = divmod(n, 86400)
                w({"type": "comment", "id": f"c:{p}-{t}-{j}",
                   "parent": f"c:{p}-{t}-{PARENT[j]}" if j else None, "status": "approved",
                   "author": f"Reader {t}-{j}", "website": None,
                   "created_at": "2020-%02d-%02dT%02d:%02d:%02dZ" % (1 + day // 28, 1 + day % 28, sec // 3600, sec // 60 % 60, sec % 60),
                   "edited_at": None, "body": f"{p}-{t}-{j}. {TEXT}", "reactions": {}})
# The counts request: every post's slug, as an index page asks.
json.dump({"site": "bench", "slugs": [f"/post-{p}/" for p in range(min(threads, 1000))]},
          open(body_out, "w"))
PY

echo "== Afterword cold start and counts, SQLite"
echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')   cpus: $(nproc)   load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)   binary: $BIN"
started="$(date +%s%N)"
"$BIN" import afterword "$TMP/export.jsonl" --site bench --json --config "$TMP/afterword.toml" \
  >"$TMP/import.json" 2>"$TMP/import.log" || { cat "$TMP/import.log" >&2; exit 1; }
echo "import: $((THREADS * 100)) comments in $(( ($(date +%s%N) - started) / 1000000 )) ms; database $(du -m "$TMP/bench.db" | cut -f1) MiB"

drop_caches() {
  sync
  if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then echo dropped; else echo kept; fi
}

# start: sets SERVER_PID and UP, the milliseconds from starting the process to its first
# 200 on /healthz
start() {
  local t0 code
  t0="$(date +%s%N)"
  "$BIN" serve --config "$TMP/afterword.toml" >>"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 2000); do
    code="$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' "$B/healthz" || true)"
    [ "$code" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$TMP/server.log" >&2; exit 1; }
    sleep 0.005
  done
  UP=$(( ($(date +%s%N) - t0) / 1000000 ))
}

stop() {
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

# ------------------------------------------------------------------ cold start
firsts=(); seconds=(); ups=()
for i in $(seq 1 "$STARTS"); do
  cache="$(drop_caches)"
  start
  up="$UP"
  slug="/post-$(( (i * 7919) % THREADS ))/"
  url="$B/api/v1/comments?site=bench&slug=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$slug")"
  first="$(curl --noproxy '*' -s -o "$TMP/first.json" -w '%{time_total}' "$url")"
  second="$(curl --noproxy '*' -s -o /dev/null -w '%{time_total}' "$url")"
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["thread"]["comment_count"] == 100, d["thread"]' "$TMP/first.json"
  stop
  echo "start $i (page cache $cache): up in $up ms; first read of $slug $(python3 -c "print(round(1000 * $first, 2))") ms, then $(python3 -c "print(round(1000 * $second, 2))") ms"
  ups+=("$up"); firsts+=("$first"); seconds+=("$second")
done

# ------------------------------------------------------------------ counts of 1,000 slugs
start
cat >"$TMP/counts.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$TMP/counts.json", "r")
wrk.body = f:read("*a")
f:close()
EOF
# The answer checked once: every slug, 100 each.
curl --noproxy '*' -s -H 'content-type: application/json' --data-binary @"$TMP/counts.json" \
  "$B/api/v1/counts" >"$TMP/counts-answer.json"
python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["counts"]; n = int(sys.argv[2]); assert len(c) == min(n, 1000) and set(c.values()) == {100}, (len(c), set(c.values()))' \
  "$TMP/counts-answer.json" "$THREADS"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$TMP/counts.lua" "$B/api/v1/counts" >"$TMP/wrk.txt"
kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server died" >&2; exit 1; }
counts_rps="$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.txt")"
counts_p50="$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")"
counts_p99="$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")"
errors="$(grep -E 'Non-2xx|Socket errors' "$TMP/wrk.txt" || true)"
stop

python3 - "${ups[*]}" "${firsts[*]}" "${seconds[*]}" "$counts_rps" "$counts_p50" "$counts_p99" "$errors" <<'PY'
import statistics, sys
ups = [int(x) for x in sys.argv[1].split()]
firsts = [1000 * float(x) for x in sys.argv[2].split()]
seconds = [1000 * float(x) for x in sys.argv[3].split()]
rps, p50, p99, errors = float(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
print()
print(f"cold start: first thread read median {statistics.median(firsts):.2f} ms, max {max(firsts):.2f} ms "
      f"(target < 20 ms: {'met' if max(firsts) < 20 else 'NOT met'}); the same read again median "
      f"{statistics.median(seconds):.2f} ms; process up (first /healthz) median {statistics.median(ups)} ms")
print(f"counts of 1,000 slugs: {rps:,.0f} req/s, p50 {p50}, p99 {p99} "
      f"(target >= 10,000 req/s: {'met' if rps >= 10000 else 'NOT met'}){' ' + errors if errors else ''}")
PY
