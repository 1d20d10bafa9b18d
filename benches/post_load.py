#!/usr/bin/env python3
"""Posts comments as fast as CONCURRENCY keep-alive connections allow for SECONDS, and
prints one JSON line: {"created", "other", "per_s", "p50_ms", "p99_ms"}.

    post_load.py URL SECONDS CONCURRENCY [RATE]

URL is the POST /api/v1/comments URL with site and slug. With RATE, the connections
together post RATE comments a second on a fixed schedule instead (an open loop: a post
that is late is sent at once, and its latency counts from when it was due, so a server
that falls behind shows it in the percentiles). Standard library only."""
import http.client
import json
import sys
import threading
import time
import urllib.parse

url, seconds, concurrency = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rate = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] and float(sys.argv[4]) > 0 else None
u = urllib.parse.urlsplit(url)
path = u.path + "?" + u.query
lock = threading.Lock()
latencies, counts = [], {"created": 0, "other": 0}
stop_at = time.monotonic() + seconds


def worker(n):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    i = 0
    mine, created, other = [], 0, 0
    # With a rate: this connection's share, its first post offset so the connections
    # interleave.
    every = concurrency / rate if rate else 0.0
    due = time.perf_counter() + every * n / concurrency
    while time.monotonic() < stop_at:
        i += 1
        body = json.dumps({"body": f"bench comment t{n}-n{i} " + "lorem ipsum " * 20, "author": f"w{n}"})
        if rate:
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t0 = due
            due += every
        else:
            t0 = time.perf_counter()
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            status = 0
        mine.append(time.perf_counter() - t0)
        if status == 201:
            created += 1
        else:
            other += 1
    with lock:
        latencies.extend(mine)
        counts["created"] += created
        counts["other"] += other


threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
latencies.sort()


def pct(p):
    return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None


print(json.dumps({**counts, "per_s": round(counts["created"] / seconds, 1), "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))
