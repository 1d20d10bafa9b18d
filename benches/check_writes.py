#!/usr/bin/env python3
"""Exact check of the write phase of benches/load.sh (standard library only).

Usage: check_writes.py BASE_URL SITE SLUG KEYS_FILE STORED_COUNT

KEYS_FILE is written by write.lua: "sent t<T> <N>" per wrk thread (requests
t<T>-n1 .. t<T>-n<N> were generated) and "ok t<T>-n<N>" per 201 response.
Lists every comment of the thread through GET /api/v1/comments (following the
`next` cursor), takes the key back out of each comment's html, and checks:
  lost       = keys answered 201 but not stored               must be 0
  duplicates = keys stored more than once                     must be 0
  never-sent = stored keys wrk never generated                must be 0
  listed     = number of comments listed == STORED_COUNT (from /api/v1/counts)
Prints one line ending in OK or MISMATCH; exits 0 or 1.
"""
import collections
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

KEY = re.compile(r"Request key: t(\d+)-n(\d+)")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url):
    try:
        with OPENER.open(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def walk(items):
    for c in items:
        yield c
        if isinstance(c.get("replies"), list):
            yield from walk(c["replies"])


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    base, site, slug, keys_file, stored_count = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])

    sent, ok = {}, set()
    with open(keys_file) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "sent":
                sent[int(parts[1][1:])] = int(parts[2])
            elif parts[0] == "ok":
                t, n = parts[1][1:].split("-n")
                ok.add((int(t), int(n)))

    stored = collections.Counter()
    listed = without_key = pages = 0
    after = None
    seen_cursors = set()
    max_pages = stored_count // 200 + 50  # bounded even if the cursor misbehaves
    while pages < max_pages:
        q = {"site": site, "slug": slug, "limit": 200}
        if after is not None:
            q["after"] = after
        status, raw = get(base + "/api/v1/comments?" + urllib.parse.urlencode(q))
        if status != 200:
            print("key check: listing page %d returned HTTP %d: %s => MISMATCH"
                  % (pages + 1, status, raw[:300].decode("utf-8", "replace")))
            return 1
        pages += 1
        doc = json.loads(raw)
        for c in walk(doc.get("comments", [])):
            listed += 1
            m = KEY.search(c.get("html") or "")
            if m:
                stored[(int(m.group(1)), int(m.group(2)))] += 1
            else:
                without_key += 1
        after = doc.get("next")
        if after is None:
            break
        if after in seen_cursors:
            print("key check: cursor %r repeated after %d pages => MISMATCH" % (after, pages))
            return 1
        seen_cursors.add(after)
    else:
        print("key check: still a `next` cursor after %d pages => MISMATCH" % pages)
        return 1

    lost = sorted(k for k in ok if k not in stored)
    dups = sorted(k for k, v in stored.items() if v > 1)
    never_sent = sorted(k for k in stored if k[1] > sent.get(k[0], 0) or k[1] < 1)
    good = not lost and not dups and not never_sent and without_key == 0 and listed == stored_count
    ex = lambda ks: (" e.g. t%d-n%d" % ks[0]) if ks else ""
    print("key check: listed %d comments in %d pages (counts endpoint: %d); 201 keys %d, lost %d%s, "
          "duplicates %d%s, never-sent %d%s, without key %d => %s"
          % (listed, pages, stored_count, len(ok), len(lost), ex(lost), len(dups), ex(dups),
             len(never_sent), ex(never_sent), without_key, "OK" if good else "MISMATCH"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
