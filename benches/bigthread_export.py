#!/usr/bin/env python3
"""Writes one thread as an Afterword export (JSON Lines) for benches/bigthread.sh.

    bigthread_export.py SITE SLUG COMMENTS OUT

COMMENTS / 10 top-level comments, each with 9 replies nested three levels deep and one
beyond (the display's nesting limit), about 300 characters of Markdown each, reactions on
most of them (so `sort=top` has scores to order by, with ties), 3 on the post. All approved.
Prints the number of top-level comments.
"""
import json
import sys

site, slug, total, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if total % 10 or total <= 0:
    sys.exit("COMMENTS must be a positive multiple of 10")
tops = total // 10
PARENT = [0, 0, 0, 1, 3, 4, 0, 6, 2, 8]
TEXT = ("A comment of the bench thread, with *some* Markdown and a [link](https://example.org/)."
        " It goes on a little, as readers' comments do, to be about the size of a real one:"
        " a few sentences that say something about the post and quote `a bit of code`.")

with open(out, "w", encoding="utf-8") as f:
    w = lambda v: f.write(json.dumps(v, ensure_ascii=False) + "\n")
    w({"format": "afterword-export", "version": 1, "site": site})
    w({"type": "thread", "slug": slug, "title": "Big thread", "url": None, "locked": False,
       "created_at": "2020-01-01T00:00:00Z", "reactions": {"🎉": 3}})
    n = 0
    for t in range(tops):
        for j in range(10):
            n += 1
            h = (t * 31 + j * 7) % 11
            rx = {k: v for k, v in (("👍", h % 5), ("❤️", h % 3)) if v}
            day, sec = divmod(n, 86400)
            w({"type": "comment", "id": f"bench:{t}-{j}",
               "parent": f"bench:{t}-{PARENT[j]}" if j else None,
               "status": "approved", "author": f"Reader {t}-{j}", "website": None,
               "created_at": "2020-01-%02dT%02d:%02d:%02dZ" % (1 + day, sec // 3600, sec // 60 % 60, sec % 60),
               "edited_at": None, "body": f"{t}-{j}. {TEXT}", "reactions": rx})
print(tops)
