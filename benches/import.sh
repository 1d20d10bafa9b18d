#!/usr/bin/env bash
# Import speed and memory: generates a WordPress WXR file with COMMENTS comments (default
# 1,000,000, on COMMENTS/100 posts, a third of them replies), imports it into a fresh SQLite
# database with `afterword import wordpress`, and reports comments per second and the peak
# resident memory (/usr/bin/time -v). Then runs the import again (nothing to add). See
# benches/README.md.
#
#   benches/import.sh [path-to-afterword-binary]
#
# Without an argument it runs `cargo build --release`. Environment: COMMENTS (1000000),
# KEEP_TMP (0), LATENCY (0; 1: a server runs on the same database during the first
# import, and a comment is posted to it every 200 ms from a new address on a site with
# first-time moderation, which looks up the address's earlier comments: the time each
# POST takes is reported before and during the import). Needs python3 and /usr/bin/time
# (apt-get install -y time).
set -euo pipefail
export LC_ALL=C
COMMENTS="${COMMENTS:-1000000}"
KEEP_TMP="${KEEP_TMP:-0}"
LATENCY="${LATENCY:-0}"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
die() { echo "import.sh: $*" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || die "python3 is required"
[ -x /usr/bin/time ] || die "/usr/bin/time is required (apt-get install -y time)"
unset AFTERWORD_LISTEN AFTERWORD_DATABASE_URL AFTERWORD_PUBLIC_URL AFTERWORD_CONFIG
export RUST_LOG="${RUST_LOG:-warn}"
if [ $# -eq 1 ]; then
  BIN="$1"
else
  (cd "$REPO_DIR" && cargo build --release) >&2
  BIN="$REPO_DIR/target/release/afterword"
fi

TMP="$(mktemp -d)"
cleanup() { [ "$KEEP_TMP" = 1 ] && echo "kept $TMP" >&2 || rm -rf "$TMP"; }
trap cleanup EXIT
cat >"$TMP/afterword.toml" <<CONF
listen = "127.0.0.1:18089"
database_url = "sqlite://$TMP/bench.db"
[[site]]
id = "bench"
origins = ["*"]
moderation = "first-time"
[limits]
comments_per_ip_per_minute = 1000000
[spam]
honeypot = false
form_token = false
duplicates = "0s"
CONF

echo "generating $COMMENTS comments…" >&2
python3 - "$TMP/export.xml" "$COMMENTS" <<'PY'
import sys
path, total = sys.argv[1], int(sys.argv[2])
per_post = 100
words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()
with open(path, "w", encoding="utf-8", buffering=1 << 20) as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:wp="http://wordpress.org/export/1.2/"><channel>\n')
    cid = 0
    for post in range((total + per_post - 1) // per_post):
        f.write(f"<item><title>Post {post} &amp; more</title>"
                f"<link>https://blog.example/{post // 100}/post-{post}/</link>"
                f"<wp:post_id>{post}</wp:post_id>\n")
        first = cid + 1
        for i in range(min(per_post, total - cid)):
            cid += 1
            parent = first + (i // 3) if i % 3 == 2 else 0
            body = " ".join(words[(cid + k) % len(words)] for k in range(25))
            f.write(
                f"<wp:comment><wp:comment_id>{cid}</wp:comment_id>"
                f"<wp:comment_author><![CDATA[Reader {cid % 5000}]]></wp:comment_author>"
                f"<wp:comment_author_email>reader{cid % 5000}@example.org</wp:comment_author_email>"
                f"<wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt>"
                f"<wp:comment_content><![CDATA[{body}\n\nWith <em>emphasis</em> &amp; a "
                f"<a href=\"https://example.org/{cid}\">link</a>.]]></wp:comment_content>"
                f"<wp:comment_approved>{'spam' if cid % 50 == 0 else '1'}</wp:comment_approved>"
                f"<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>\n")
        f.write("</item>\n")
    f.write("</channel></rss>\n")
PY
ls -l "$TMP/export.xml" | awk '{printf "file: %.0f MB\n", $5 / 1e6}' >&2

run() {
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v "$BIN" import wordpress "$TMP/export.xml" --site bench \
    --config "$TMP/afterword.toml" >"$TMP/summary.txt" 2>"$TMP/time.txt"
  end=$(date +%s.%N)
  local secs rss
  secs=$(python3 -c "print(f'{$end - $start:.1f}')")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$TMP/time.txt")
  echo "$1: $secs s, $(python3 -c "print(f'{$COMMENTS / ($end - $start):,.0f}')") comments/s, peak RSS $rss MB"
  sed 's/^/  /' "$TMP/summary.txt"
}
# Posts a comment every 200 ms until $TMP/stop exists; prints the POST times (ms).
poster() {
  python3 - "$TMP" <<'PY'
import json, os, sys, time, urllib.request
tmp = sys.argv[1]
lat, n = [], 0
while not os.path.exists(f"{tmp}/stop"):
    n += 1
    body = json.dumps({"body": f"posted during the import {n}", "author": f"Poster {n}",
                       "email": f"poster{n}@example.org"}).encode()
    req = urllib.request.Request("http://127.0.0.1:18089/api/v1/comments?site=bench&slug=/live/",
                                 data=body, headers={"Content-Type": "application/json"})
    t = time.monotonic()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    lat.append((time.monotonic() - t) * 1000)
    time.sleep(0.2)
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{len(lat)} posts: median {pick(0.5):.0f} ms, p95 {pick(0.95):.0f} ms, max {lat[-1]:.0f} ms")
PY
}

if [ "$LATENCY" = 1 ]; then
  "$BIN" serve --config "$TMP/afterword.toml" 2>"$TMP/serve.txt" &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null; cleanup' EXIT
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', 18089), 1)" 2>/dev/null && break
    sleep 0.2
  done
  poster >"$TMP/idle.txt" & P=$!; sleep 10; touch "$TMP/stop"; wait $P; rm "$TMP/stop"
  echo "POST /comments with no import running: $(cat "$TMP/idle.txt")"
  poster >"$TMP/during.txt" & P=$!
  run "first import"
  touch "$TMP/stop"; wait $P
  echo "POST /comments during the first import: $(cat "$TMP/during.txt")"
else
  run "first import"
fi
run "second import (nothing new)"
