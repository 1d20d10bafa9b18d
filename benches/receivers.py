#!/usr/bin/env python3
"""Webhook receivers for benches/webhooks.sh, on loopback: two that answer 204 at once and
count what they got (in DIR/good-0.count, DIR/good-1.count), and one that accepts
connections and never answers. Prints the three ports on one line, then serves until
killed. Standard library only.

    receivers.py DIR"""
import http.server
import os
import socket
import sys
import threading

out = sys.argv[1]


def good(i):
    count = [0]
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                count[0] += 1
                with open(os.path.join(out, f"good-{i}.count"), "w") as f:
                    f.write(str(count[0]))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s.server_address[1]


def dead():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    held = []

    def hold():
        while True:
            c, _ = s.accept()
            held.append(c)  # read nothing, answer nothing

    threading.Thread(target=hold, daemon=True).start()
    return s.getsockname()[1]


ports = [good(0), good(1), dead()]
print(*ports, flush=True)
threading.Event().wait()
