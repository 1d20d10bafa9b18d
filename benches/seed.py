#!/usr/bin/env python3
"""Seed data for benches/load.sh (standard library only).

Usage: seed.py BASE_URL SITE [--thread SLUG]

Creates, through the public API:
  * /bench/thread/   100 comments, 30 of them replies to earlier top-level comments
                     (with --thread SLUG: only such a thread, at SLUG)
  * /bench/post-N/   for N = 1..100, one comment each (for the counts phase)
then reads both back and checks what it finds. Exits non-zero if a write fails.
"""
import json
import random
import sys
import urllib.error
import urllib.parse
import urllib.request

THREAD_SLUG = "/bench/thread/"
POST_SLUGS = ["/bench/post-%d/" % i for i in range(1, 101)]

# Never go through a proxy: the server is on loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

WORDS = ("static site", "comment thread", "reverse proxy", "SQLite file", "moderation queue",
         "Atom feed", "embed script", "reaction", "edit window", "backup")


def body_for(n, where=""):
    """Comment n's text; `where` (the thread) keeps threads' texts apart, for the spam
    checks' duplicate test."""
    w1 = WORDS[n % len(WORDS)]
    w2 = WORDS[(n * 7 + 3) % len(WORDS)]
    return (
        "Thanks for writing this up (comment %d of the benchmark%s). I tried the "
        "same with a *%s* and it mostly worked, though the "
        "[docs](https://example.com/docs/%d) could say more about the %s.\n\n"
        "A second paragraph, so the renderer sees **more than one block**: how "
        "does this behave when the `%s` grows past a few thousand entries?"
        % (n, where and " on " + where, w1, n, w2, w1)
    )


def call(method, base, path, query, payload=None):
    url = base + path + "?" + urllib.parse.urlencode(query, doseq=True)
    data = None
    headers = {"Accept": "application/json"}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with OPENER.open(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# The spam checks' form token of each thread (a thread read hands it out, as the embed
# gets it), sent with every comment: without it the server files comments as spam.
TOKENS = {}


def form_token(base, site, slug):
    if slug not in TOKENS:
        url = base + "/api/v1/comments?" + urllib.parse.urlencode({"site": site, "slug": slug})
        with OPENER.open(urllib.request.Request(url), timeout=30) as resp:
            TOKENS[slug] = resp.headers.get("Afterword-Form")
    return TOKENS[slug]


def post_comment(base, site, slug, payload):
    token = form_token(base, site, slug)
    if token:
        payload = dict(payload, form_token=token)
    status, raw = call("POST", base, "/api/v1/comments", {"site": site, "slug": slug}, payload)
    if status != 201:
        sys.exit("seed: POST /api/v1/comments slug=%s returned %d: %s"
                 % (slug, status, raw[:500].decode("utf-8", "replace")))
    doc = json.loads(raw)
    comment = doc["comment"]
    if comment.get("status") != "approved":
        print("seed: WARNING: new comment has status %r, not 'approved' "
              "(counts and reads will miss it)" % comment.get("status"))
    return comment["id"]


def count_comments(items):
    total = 0
    for c in items:
        total += 1
        # Replies are expected as a flat list with parent_id; count nested ones too if present.
        if isinstance(c.get("replies"), list):
            total += count_comments(c["replies"])
    return total


def seed_thread(base, site, slug):
    """100 comments on `slug`, 30 of them replies; returns (top-level, replies)."""
    rng = random.Random(20190515)
    top_level = []
    replies = 0
    for i in range(100):
        payload = {"body": body_for(i + 1, slug), "author": "Reader %d" % (i + 1)}
        is_reply = i % 10 in (3, 6, 9)  # 30 of 100
        if is_reply:
            payload["parent_id"] = rng.choice(top_level)
        cid = post_comment(base, site, slug, payload)
        if is_reply:
            replies += 1
        else:
            top_level.append(cid)
    return len(top_level), replies


def main():
    if len(sys.argv) == 5 and sys.argv[3] == "--thread":
        tops, replies = seed_thread(sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[4])
        print("seed: %s: %d comments" % (sys.argv[4], tops + replies))
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    base, site = sys.argv[1].rstrip("/"), sys.argv[2]
    tops, replies = seed_thread(base, site, THREAD_SLUG)
    print("seed: %s: %d comments (%d top-level, %d replies)"
          % (THREAD_SLUG, tops + replies, tops, replies))

    for n, slug in enumerate(POST_SLUGS, start=1):
        post_comment(base, site, slug, {"body": body_for(1000 + n), "author": "Reader %d" % n})
    print("seed: /bench/post-1/ .. /bench/post-100/: 1 comment each")

    # Read back what the benchmark phases will read.
    status, raw = call("GET", base, "/api/v1/comments", {"site": site, "slug": THREAD_SLUG, "limit": 200})
    ok = False
    if status == 200:
        doc = json.loads(raw)
        got = count_comments(doc.get("comments", []))
        ok = got == 100 and doc.get("next") is None
        print("seed: read-back %s: %d comments, next=%r%s"
              % (THREAD_SLUG, got, doc.get("next"), "" if ok else "  WARNING: expected 100 and next=null"))
    else:
        print("seed: WARNING: read-back of %s returned %d" % (THREAD_SLUG, status))

    status, raw = call("GET", base, "/api/v1/counts", {"site": site, "slug": POST_SLUGS})
    if status == 200:
        counts = json.loads(raw).get("counts", {})
        bad = [s for s in POST_SLUGS if counts.get(s) != 1]
        print("seed: read-back counts of %d post slugs: %s"
              % (len(POST_SLUGS), "all 1" if not bad else "WARNING: %d not 1, e.g. %s=%r"
                 % (len(bad), bad[0], counts.get(bad[0]))))
    else:
        print("seed: WARNING: read-back of counts returned %d" % status)


if __name__ == "__main__":
    main()
