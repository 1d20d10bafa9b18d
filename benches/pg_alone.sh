#!/usr/bin/env bash
# The database alone: how many new comments a second PostgreSQL itself stores here, on one
# hot thread, measured with pgbench.
#
#   benches/pg_alone.sh DATABASE_URL SECONDS [BATCH]
#
# DATABASE_URL is a migrated Afterword database (benches/load.sh passes its own). The rows
# are those a comment write stores: the thread's counter bumped, the comment row (a
# ~300-character body and its HTML, the indexed columns filled as the server fills them)
# and its event row, on a thread of their own (`/bench/alone/`). Two ways, each for
# SECONDS:
#   batched:   one client, transactions of BATCH comments (default 64, the server
#              writer's largest batch) sent as one pipeline (`\startpipeline`): the fewest
#              round trips and commits there can be;
#   per-comment: 32 clients, one transaction per comment (the thread's row lock makes
#              them take turns, as every comment on one thread must).
# Prints one line per way and the better of the two:
#   AFTERWORD_ALONE way=batched comments=N seconds=S rate=R
#   AFTERWORD_ALONE best rate=R
set -euo pipefail
url="$1" seconds="$2" batch="${3:-64}"
command -v pgbench >/dev/null 2>&1 || { echo "pg_alone.sh: pgbench is missing (Debian: postgresql-client or the server package)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

psql "$url" -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO threads (site, slug, locked, comment_count, created_at) VALUES ('bench', '/bench/alone/', FALSE, 0, 0) ON CONFLICT (site, slug) DO NOTHING" >/dev/null
tid="$(psql "$url" -X -q -t -A -c "SELECT id FROM threads WHERE site = 'bench' AND slug = '/bench/alone/'")"

# One comment: its row and its event in one statement (the event names the new id).
comment_sql() {
  cat <<EOF
UPDATE threads SET comment_count = comment_count + 1 WHERE id = $tid;
WITH c AS (INSERT INTO comments (thread_id, status, body, html, author, avatar, notify_replies, edit_token_hash, ip, user_agent, created_at) VALUES ($tid, 'approved', 'Load-test comment number ' || :n::bigint::text || ' from the database alone. This paragraph has *emphasis*, some **strong text** and a [link](https://example.com/posts/1) so that the row is as long as the server''s. A second paragraph keeps the body near three hundred characters.', '<p>Load-test comment number ' || :n::bigint::text || ' from the database alone. This paragraph has <em>emphasis</em>, some <strong>strong text</strong> and a <a href="https://example.com/posts/1" rel="nofollow noopener ugc">link</a> so that the row is as long as the server''s.</p><p>A second paragraph keeps the body near three hundred characters.</p>', 'Load tester', md5(:n::bigint::text) || md5((:n::bigint + 1)::text), FALSE, md5((:n::bigint + 2)::text) || md5((:n::bigint + 3)::text), md5((:n::bigint + 4)::text), 'wrk', :now::bigint) RETURNING id, body) INSERT INTO events (at, kind, site, thread_id, comment_id, detail) SELECT :now::bigint, 'comment.created', 'bench', $tid, id, '{"status":"approved","comment":{"status":"approved","parent_id": null,"author":"Load tester","excerpt":"' || left(body, 200) || '","created_at":"2026-12-07T00.00.00Z"}}' FROM c;
EOF
}

{
  echo '\set now 1800000000000000'
  echo '\startpipeline'
  echo 'BEGIN;'
  for i in $(seq 1 "$batch"); do
    echo "\\set n random(1, 1000000000)"
    comment_sql
  done
  echo 'COMMIT;'
  echo '\endpipeline'
} >"$tmp/batched.sql"
{
  echo '\set now 1800000000000000'
  echo '\set n random(1, 1000000000)'
  echo 'BEGIN;'
  comment_sql
  echo 'COMMIT;'
} >"$tmp/single.sql"

best=0
run() { # run NAME COMMENTS_PER_TRANSACTION pgbench-args...
  local name="$1" per="$2"
  shift 2
  pgbench -n -T "$seconds" "$@" "$url" >"$tmp/$name.out" 2>&1 \
    || { cat "$tmp/$name.out" >&2; echo "pg_alone.sh: pgbench failed ($name)" >&2; exit 1; }
  local tx
  tx="$(awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }' "$tmp/$name.out")"
  local rate
  rate="$(awk -v t="$tx" -v p="$per" -v s="$seconds" 'BEGIN { printf "%.0f", t * p / s }')"
  echo "AFTERWORD_ALONE way=$name comments=$((tx * per)) seconds=$seconds rate=$rate"
  [ "$rate" -gt "$best" ] && best="$rate"
  return 0
}
run batched "$batch" -M prepared -c 1 -j 1 -f "$tmp/batched.sql"
run per-comment 1 -M prepared -c 32 -j 2 -f "$tmp/single.sql"
echo "AFTERWORD_ALONE best rate=$best"
