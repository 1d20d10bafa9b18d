#!/usr/bin/env python3
"""How long until a write through one instance is seen through another (PostgreSQL).

Starts two Afterword instances on one fresh PostgreSQL database. Each round reads a thread
through instance B (so B caches it), posts a comment through instance A, then reads the
thread through B as fast as it can until the new comment is there. The delay from A's
201 to B's first fresh answer is how stale B's cache can be.

    benches/propagation.py target/release/afterword [postgres://postgres@127.0.0.1:5432] [ROUNDS]
"""
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url + "/postgres", "-qAtc", sql], check=True,
                   stdout=subprocess.DEVNULL)


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/afterword"
    admin = sys.argv[2] if len(sys.argv) > 2 else "postgres://postgres@127.0.0.1:5432"
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    db = "afterword_prop_" + secrets.token_hex(4)
    psql(admin, f"CREATE DATABASE {db}")
    tmp = tempfile.mkdtemp()
    procs = []
    try:
        cfg = os.path.join(tmp, "afterword.toml")
        with open(cfg, "w") as f:
            f.write('[[site]]\nid = "p"\norigins = ["*"]\n'
                    "[limits]\ncomments_per_ip_per_minute = 0\n")
        ports = [free_port(), free_port()]
        for port in ports:
            env = dict(os.environ, AFTERWORD_LISTEN=f"127.0.0.1:{port}",
                       AFTERWORD_DATABASE_URL=f"{admin}/{db}", RUST_LOG="warn")
            procs.append(subprocess.Popen([binary, "serve", "--config", cfg], env=env,
                                          stderr=open(os.path.join(tmp, f"{port}.log"), "w")))
            for _ in range(300):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    if request(c, "GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.exit(f"instance on {port} did not start")
        a = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=5)
        b = http.client.HTTPConnection("127.0.0.1", ports[1], timeout=5)
        path = "/api/v1/comments?site=p&slug=%2Fprop%2F&limit=1"
        delays = []
        reads = []
        for i in range(rounds):
            status, before = request(b, "GET", path)
            assert status == 200
            seen = json.loads(before)["thread"]["comment_count"]
            status, _ = request(a, "POST", "/api/v1/comments?site=p&slug=%2Fprop%2F",
                                {"body": f"round {i}"})
            assert status == 201, status
            t0 = time.perf_counter()
            n = 0
            while True:
                n += 1
                _, now = request(b, "GET", path)
                if json.loads(now)["thread"]["comment_count"] > seen:
                    break
                if time.perf_counter() - t0 > 30:
                    sys.exit("instance B never saw the write")
            delays.append((time.perf_counter() - t0) * 1000)
            reads.append(n)
            time.sleep(0.002)
        delays.sort()
        q = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))]
        print(f"propagation over {rounds} writes: mean {statistics.mean(delays):.2f} ms, "
              f"p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {delays[-1]:.2f} ms "
              f"(stale reads before the fresh one: mean {statistics.mean(reads) - 1:.1f})")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
