"""The real server, started as ./scripts/serve starts it, survives slow and idle clients.

Two connections that sent half a request took the site offline under sync workers.
Here one gunicorn (``stations.serve.command``) runs on a free port over a temporary
database; 100 slow connections are opened (half a request line, headers without
their end, bodies dripping a byte at a time, idle sockets, idle kept-alive
connections) and fresh requests must each still be answered within a second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from stations import serve

ROOT = Path(__file__).resolve().parents[1]
FRESH_BUDGET_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/healthz", timeout=FRESH_BUDGET_S, headers=""):
    """(status, seconds) of one GET on a new connection; raises on timeout."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
                  .encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), time.perf_counter() - start


@contextlib.contextmanager
def served(tmp: Path, env: dict):
    """``./scripts/serve``'s server stack on a free port, run in ``tmp`` with ``env``;
    yields the port once /healthz answers, and stops the server (and only it) after."""
    port = free_port()
    log = open(tmp / "gunicorn.log", "wb")
    proc = subprocess.Popen(serve.command(f"127.0.0.1:{port}"), cwd=tmp, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http_get(port, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the server did not start:\n"
                            + (tmp / "gunicorn.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group started for this server only
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    env = dict(os.environ, YIZHAN_DB=str(tmp / "yizhan.db"), YIZHAN_SECRET_KEY="test-secret",
               WEB_CONCURRENCY="2")
    with served(tmp, env) as port:
        yield port


class SlowClients:
    """Slow and idle connections of several kinds, held open until ``close()``."""

    BODY = ("POST /stations/1/feedback HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")

    def __init__(self, port, count):
        self.socks, self.dripping, self.stop = [], [], threading.Event()
        kinds = [b"GET /healthz HTTP/1.1\r\n",  # the request line only
                 b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1",  # headers never end
                 self.BODY.encode(),  # then a body dripping a byte at a time
                 b"",  # connected, silent
                 b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"]  # answered, kept alive
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(kinds[i % len(kinds)])
            self.socks.append(s)
            if kinds[i % len(kinds)] is kinds[2]:
                self.dripping.append(s)
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        while not self.stop.wait(0.2):
            for s in self.dripping:
                try:
                    s.send(b"x")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def test_fresh_requests_answer_within_a_second_while_100_slow_connections_are_open(server):
    slow = SlowClients(server, 100)
    try:
        time.sleep(0.5)  # every slow connection has reached a worker
        timings = []
        for _ in range(30):
            status, seconds = http_get(server)
            assert status == 200
            timings.append(seconds)
        # Several at once, too.
        results = []
        threads = [threading.Thread(target=lambda: results.append(http_get(server)))
                   for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [status for status, _ in results] == [200] * 10
        timings += [seconds for _, seconds in results]
        assert max(timings) < FRESH_BUDGET_S, timings
    finally:
        slow.close()


def test_unfinished_headers_are_dropped_after_the_keepalive_timeout(server):
    s = socket.create_connection(("127.0.0.1", server), timeout=serve.keepalive + 10)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        start = time.monotonic()
        assert s.recv(1024) == b""  # the server closed it
        assert time.monotonic() - start < serve.keepalive + 5
    finally:
        s.close()


def test_oversized_request_line_and_headers_are_refused(server):
    status, _ = http_get(server, "/healthz?q=" + "x" * (serve.limit_request_line + 10))
    assert status in (400, 414)
    status, _ = http_get(server, headers="X-Big: " + "y" * (serve.limit_request_field_size + 10)
                         + "\r\n")
    assert status in (400, 431)
    assert http_get(server)[0] == 200  # and the server carries on


def test_scripts_serve_runs_the_shared_command():
    script = (ROOT / "scripts" / "serve").read_text()
    assert "-m stations.serve" in script
    assert "bin/gunicorn" not in script  # no second, diverging command line
