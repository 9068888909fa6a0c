"""How the web app is served: gunicorn with gevent workers, configured in this one place.

``./scripts/serve``, the serving tests and the benchmarks all start the server with
``command()`` (``python -m stations.serve --bind HOST:PORT``); the module's top-level
names are also gunicorn's configuration (``gunicorn -c python:stations.serve``).

Why gevent workers: a sync worker is held by one connection from its first byte to
the last, so two clients that send half a request line took the site offline.  A
gevent worker reads every connection in its own greenlet, so slow, idle or dripping
connections wait without holding anything (10,000 would cost a few MB); two worker
processes keep both cores busy.  Requests reach the app only once their headers are
complete; a request whose headers take longer than ``keepalive`` seconds, and an idle
kept-alive connection, are closed.

The price of an event loop: work that never yields (CPU, a SQLite call waiting for
another writer's lock) pauses the other requests of that worker meanwhile.  Keep
long work (imports) out of requests, and put a buffering reverse proxy in front in
production (README, "Production").

Nothing here imports Flask: the workers import ``app:app`` after they fork.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["command", "main"]

ROOT = Path(__file__).resolve().parents[1]

# --- gunicorn settings (https://docs.gunicorn.org/en/stable/settings.html) ----------
wsgi_app = "app:app"
chdir = str(ROOT)
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)  # one per core
worker_connections = 1000  # open connections per worker, slow ones included
keepalive = 5  # seconds: an idle kept-alive connection, or unfinished headers, then closed
timeout = 120  # a worker whose loop is stuck this long is restarted
graceful_timeout = 30
limit_request_line = 4094  # bytes in "GET /path?query HTTP/1.1"
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = "-"


def command(bind: str = "127.0.0.1:5000", *extra: str) -> list[str]:
    """The argv that serves the app on ``bind`` (extra gunicorn options before the app)."""
    return [sys.executable, "-m", "gunicorn", "--config", "python:stations.serve",
            "--bind", bind, *extra]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stations.serve",
                                     description="Serve Yizhan with gunicorn (gevent workers).")
    parser.add_argument("--bind", default="127.0.0.1:5000", help="HOST:PORT to listen on")
    args, extra = parser.parse_known_args(argv)
    argv = command(args.bind, *extra)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
