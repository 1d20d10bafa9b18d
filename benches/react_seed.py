#!/usr/bin/env python3
"""Reactions for benches/load.sh (standard library only).

Usage: react_seed.py BASE_URL SITE SLUG

Gives the post at SLUG and every comment of its thread reactions through the public
API: 5 per comment over 3 kinds (2 visitors' 👍, 2 ❤️, 1 😂), 12 on the post. Then reads
the thread back and checks every count. Exits non-zero if anything is off.
"""
import json
import sys
import urllib.parse
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PER_COMMENT = [("👍", "a"), ("👍", "b"), ("❤️", "c"), ("❤️", "d"), ("😂", "e")]


def call(method, url, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with OPENER.open(req, timeout=30) as r:
        return json.load(r)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, site, slug = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    q = "site=%s&slug=%s" % (urllib.parse.quote(site), urllib.parse.quote(slug, safe=""))
    page = call("GET", "%s/api/v1/comments?%s&limit=200" % (base, q))
    ids = [c["id"] for c in page["comments"]]
    react = lambda body: call("POST", "%s/api/v1/reactions?%s" % (base, q), body)
    for cid in ids:
        for kind, who in PER_COMMENT:
            react({"kind": kind, "comment_id": cid, "visitor": "seed-%s" % who, "active": True})
    for i in range(12):
        react({"kind": "🎉", "visitor": "seed-post-%d" % i, "active": True})
    page = call("GET", "%s/api/v1/comments?%s&limit=200" % (base, q))
    want = {"👍": 2, "❤️": 2, "😂": 1}
    bad = [c["id"] for c in page["comments"] if c["reactions"] != want]
    if bad or page["thread"]["reactions"] != {"🎉": 12}:
        sys.exit("react_seed: wrong counts on %d comments, post %r" % (len(bad), page["thread"]["reactions"]))
    print("seed: %s: %d reactions on %d comments, 12 on the post"
          % (slug, len(ids) * len(PER_COMMENT), len(ids)))


if __name__ == "__main__":
    main()
