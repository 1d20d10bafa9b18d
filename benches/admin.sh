#!/usr/bin/env bash
# The admin side with 100,000 comments: how fast the moderation queue, filtered lists, deep
# cursor pages, text search and the HTML queue answer. SQLite. See benches/README.md.
#
#   benches/admin.sh [path-to-afterword-binary]
#
# Without an argument it runs `cargo build --release`. Environment: COMMENTS (100000),
# DURATION (5s), CONNECTIONS (8), KEEP_TMP (0). Needs wrk, curl, sqlite3, python3.
set -euo pipefail
export LC_ALL=C
COMMENTS="${COMMENTS:-100000}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-8}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
die() { echo "admin.sh: $*" >&2; exit 1; }
for tool in wrk curl sqlite3 python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (apt-get install -y $tool)"
done
unset AFTERWORD_LISTEN AFTERWORD_DATABASE_URL AFTERWORD_PUBLIC_URL AFTERWORD_CONFIG
export RUST_LOG="${RUST_LOG:-warn}"
if [ $# -eq 1 ]; then
  BIN="$1"
else
  (cd "$REPO_DIR" && cargo build --release) >&2
  BIN="$REPO_DIR/target/release/afterword"
fi

TMP="$(mktemp -d)"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ "$KEEP_TMP" = 1 ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$TMP/afterword.toml" <<CONF
listen = "127.0.0.1:$PORT"
database_url = "sqlite://$TMP/admin.db"
[[site]]
id = "blog"
origins = ["https://blog.example"]
moderation = "first-time"
CONF

"$BIN" migrate --config "$TMP/afterword.toml" >/dev/null
echo "admin.sh: writing $COMMENTS comments over 1000 threads ..." >&2
sqlite3 "$TMP/admin.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO threads (site, slug, title, url, locked, comment_count, created_at)
SELECT 'blog', '/posts/' || i || '/', 'Post ' || i, 'https://blog.example/posts/' || i || '/', 0, 0,
       1700000000000000 + i FROM n;
-- One in 20 pending, one in 50 spam, the rest approved; one comment mentions a needle.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $COMMENTS)
INSERT INTO comments (thread_id, status, body, html, author, email, avatar, notify_replies,
                      ip, user_agent, created_at)
SELECT 1 + (i % 1000),
       CASE WHEN i % 20 = 0 THEN 'pending' WHEN i % 50 = 1 THEN 'spam' ELSE 'approved' END,
       CASE WHEN i = 1234 THEN 'a needle in the haystack' ELSE 'Comment ' || i || ' has a few words about the post' END,
       '<p>Comment ' || i || ' has a few words about the post</p>',
       'Reader ' || (i % 3000), 'reader' || (i % 3000) || '@example.com', 'abcdef0123456789', 0,
       '10.0.' || (i % 250) || '.' || (i % 200), 'bench', 1700000000000000 + i * 1000000
FROM n;
UPDATE threads SET comment_count =
  (SELECT COUNT(*) FROM comments WHERE thread_id = threads.id AND status = 'approved');
SQL
printf 'bench moderator password\n' | "$BIN" admin create bench --config "$TMP/afterword.toml" >/dev/null

"$BIN" serve --config "$TMP/afterword.toml" 2>"$TMP/server.log" &
PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS -c "$TMP/jar" -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench moderator password"}' \
  "http://127.0.0.1:$PORT/api/v1/admin/login" >/dev/null
SESSION="$(awk '$6 == "afterword_session" { print $7 }' "$TMP/jar")"
[ -n "$SESSION" ] || die "no session"

OLD=$((COMMENTS / 100))
printf '%-44s %10s %9s %9s\n' "request ($COMMENTS comments)" "req/s" "p50" "p99"
for path in \
  "/api/v1/admin/comments?status=pending" \
  "/api/v1/admin/comments" \
  "/api/v1/admin/comments?before=$OLD" \
  "/api/v1/admin/comments?status=pending&before=$OLD" \
  "/api/v1/admin/comments?site=blog&slug=/posts/500/" \
  "/api/v1/admin/comments?q=needle" \
  "/api/v1/admin/comments?q=reader%202999" \
  "/api/v1/admin/threads" \
  "/admin" ; do
  out="$(wrk --latency -t 2 -c "$CONNECTIONS" -d "$DURATION" \
    -H "Cookie: afterword_session=$SESSION" "http://127.0.0.1:$PORT$path")"
  rps="$(awk '/Requests\/sec/ { print $2 }' <<<"$out")"
  p50="$(awk '$1 == "50%" { print $2 }' <<<"$out")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ { print $NF }' <<<"$out")"
  [ -z "$non2xx" ] || die "$path: $non2xx answers were not 2xx"
  printf '%-44s %10s %9s %9s\n' "${path:0:44}" "$rps" "$p50" "$p99"
done
kill -0 "$PID" || die "the server died"
