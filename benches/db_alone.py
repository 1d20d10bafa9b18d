#!/usr/bin/env python3
"""The database alone: how many new comments a second SQLite itself stores here.

    db_alone.py DB_FILE SECONDS [BATCH]

Writes, into the bench's own (migrated) SQLite file, the rows a comment write stores:
the thread's counter bumped, the comment row (every indexed column filled as the server
fills it, a ~300-character body and its HTML) and its event row, in transactions of BATCH
comments (default 64, the server writer's largest batch), with the server's pragmas
(write-ahead log, synchronous=NORMAL unless SYNC=FULL). No savepoints, no reads, no
RETURNING: the least work that stores the same rows. Rows go to a thread of their own,
`/bench/alone/`. Prints one line:

    AFTERWORD_ALONE comments=N seconds=S rate=R batch=B

This is the limit the server's comment-write phase is compared with (benches/load.sh).
Standard library only; executemany runs each batch's inserts in C.
"""

import os
import sqlite3
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
sync = os.environ.get("SYNC", "NORMAL").upper()

db = sqlite3.connect(path, isolation_level=None, timeout=30)
db.execute("PRAGMA journal_mode = WAL")
db.execute(f"PRAGMA synchronous = {sync}")
db.execute("PRAGMA foreign_keys = ON")
db.execute("PRAGMA secure_delete = ON")
db.execute("PRAGMA cache_size = -512")

now = int(time.time() * 1_000_000)
db.execute(
    "INSERT INTO threads (site, slug, locked, comment_count, created_at) "
    "VALUES ('bench', '/bench/alone/', 0, 0, ?) ON CONFLICT (site, slug) DO NOTHING",
    (now,),
)
thread_id = db.execute(
    "SELECT id FROM threads WHERE site = 'bench' AND slug = '/bench/alone/'"
).fetchone()[0]
next_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM comments").fetchone()[0]
next_event = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]

BODY = (
    "Load-test comment number %d from the database alone. This paragraph has *emphasis*, "
    "some **strong text** and a [link](https://example.com/posts/%d) so that the row is "
    "as long as the server's.\n\nA second paragraph keeps the body near three hundred "
    "characters. Request key: alone-n%d."
)
HTML = (
    "<p>Load-test comment number %d from the database alone. This paragraph has "
    "<em>emphasis</em>, some <strong>strong text</strong> and a "
    '<a href="https://example.com/posts/%d" rel="nofollow noopener ugc">link</a> so that '
    "the row is as long as the server's.</p>\n<p>A second paragraph keeps the body near "
    "three hundred characters. Request key: alone-n%d.</p>\n"
)
DETAIL = (
    '{"status":"approved","comment":{"status":"approved","parent_id":null,'
    '"author":"Load tester","excerpt":"%s","created_at":"2026-12-07T00:00:00Z"}}'
)

COMMENT_SQL = (
    "INSERT INTO comments (id, thread_id, parent_id, root_id, status, body, html, author, "
    "email, website, avatar, notify_replies, edit_token_hash, ip, user_agent, created_at, "
    "email_key, moderator_id) VALUES (?, ?, NULL, NULL, 'approved', ?, ?, 'Load tester', "
    "NULL, NULL, ?, 0, ?, ?, 'wrk', ?, NULL, NULL)"
)
EVENT_SQL = (
    "INSERT INTO events (id, at, kind, site, thread_id, comment_id, detail) "
    "VALUES (?, ?, 'comment.created', 'bench', ?, ?, ?)"
)

stored = 0
start = time.perf_counter()
deadline = start + seconds
while time.perf_counter() < deadline:
    at = int(time.time() * 1_000_000)
    comments, events = [], []
    for i in range(batch):
        n = next_id + i
        body = BODY % (n, n, n)
        comments.append(
            (
                n,
                thread_id,
                body,
                HTML % (n, n, n),
                "%064x" % (n * 2654435761),
                "%064x" % (n * 40503),
                "%032x" % n,
                at,
            )
        )
        events.append((next_event + i, at, thread_id, n, DETAIL % body[:200]))
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "UPDATE threads SET comment_count = comment_count + ? WHERE id = ?",
        (batch, thread_id),
    )
    db.executemany(COMMENT_SQL, comments)
    db.executemany(EVENT_SQL, events)
    db.execute("COMMIT")
    next_id += batch
    next_event += batch
    stored += batch
elapsed = time.perf_counter() - start
print(
    "AFTERWORD_ALONE comments=%d seconds=%.2f rate=%.0f batch=%d"
    % (stored, elapsed, stored / elapsed, batch)
)
