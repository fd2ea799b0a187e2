"""Loopback upstream for benches/upstream.sh: /pub/N is a download folder listing, /npm/pkgN an
npm registry document; every answer waits LATENCY seconds (a far-away forge) and carries an
ETag, answered with 304 when the client sends it back. GET /__requests tells how many requests
came (itself not counted); POST-free, stdlib only. Prints its URL on stdout once listening."""

import http.server
import sys
import threading
import time

LATENCY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
COUNT = 0
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux) on every keep-alive request, which would add to LATENCY.
    disable_nagle_algorithm = True

    def do_GET(self):
        global COUNT
        if self.path == "/__requests":
            return self.answer(200, str(COUNT).encode(), None)
        with LOCK:
            COUNT += 1
        time.sleep(LATENCY)
        if self.path.startswith("/pub/"):
            n = self.path.rsplit("/", 1)[-1] or "0"
            body = "".join(f'<a href="tool{n}-1.{m}.tar.gz">x</a>\n' for m in range(1, 30)).encode()
        elif self.path.startswith("/npm/"):
            body = b'{"name":"x","dist-tags":{"latest":"3.1.4"},"versions":{}}'
        else:
            return self.answer(404, b"", None)
        etag = '"%x"' % hash(body)
        if self.headers.get("If-None-Match") == etag:
            return self.answer(304, b"", etag)
        self.answer(200, body, etag)

    def answer(self, status, body, etag):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # Both clients open max_concurrency connections at once; the default backlog of 5 drops
    # some of those SYNs, and each dropped one costs a second's retransmission.
    request_queue_size = 128


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
