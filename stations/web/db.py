"""Database connections for requests: a small pool per process, opened after gunicorn forks.

Opening and closing a SQLite connection per request costs more than the request
(closing the last connection to a WAL database checkpoints it), so each process
keeps its connections for the life of the app and lends one to each request, which
gives it back at teardown.  A pool rather than a thread-local: under gevent workers
``threading.local`` is per greenlet, i.e. one connection per client connection.
The pool keeps at most ``IDLE`` idle connections and opens more only while more
requests run at once.  The process id is checked, so a connection is never shared
across a fork.
"""

from __future__ import annotations

import os
import threading

from flask import current_app, g

from .. import storage

__all__ = ["get_db", "init_app"]


def get_db():
    """The request's sqlite-utils Database, migrated on first use by this process."""
    if "db" not in g:
        g.db = current_app.extensions["yizhan_db"].take(current_app)
    return g.db


class _Pool:
    IDLE = 8

    def __init__(self):
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.idle = []
        self.migrated = False

    def _check_fork(self):
        if self.pid != os.getpid():  # inherited from the parent: never used here
            self.pid, self.idle, self.migrated = os.getpid(), [], False

    def take(self, app):
        with self.lock:
            self._check_fork()
            if self.idle:
                return self.idle.pop()
        db = storage.connect(app.config["YIZHAN_DB"],
                             busy_timeout_ms=app.config["YIZHAN_BUSY_TIMEOUT_MS"])
        with self.lock:
            if not self.migrated:
                storage.migrate(db)
                self.migrated = True
        return db

    def give(self, db):
        with self.lock:
            self._check_fork()
            if len(self.idle) < self.IDLE:
                self.idle.append(db)
                return
        db.close()


def end_request(exc=None):
    db = g.pop("db", None)
    if db is None:
        return
    if db.conn.in_transaction:
        db.conn.rollback()  # never carry a half-done transaction into the next request
    current_app.extensions["yizhan_db"].give(db)


def init_app(app):
    app.extensions["yizhan_db"] = _Pool()
    app.teardown_appcontext(end_request)
