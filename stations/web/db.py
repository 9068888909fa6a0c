"""Database connections for requests: one per worker thread, opened after gunicorn forks.

Opening and closing a SQLite connection per request costs more than the request
(closing the last connection to a WAL database checkpoints it), so each thread of
each process keeps its own connection for the life of the app.  The process id is
checked, so a connection is never shared across a fork.
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
        local = current_app.extensions["yizhan_db"]
        held = getattr(local, "held", None)
        if held is None or held[0] != os.getpid():
            db = storage.connect(current_app.config["YIZHAN_DB"])
            if not current_app.extensions.get("yizhan_migrated") == os.getpid():
                storage.migrate(db)
                current_app.extensions["yizhan_migrated"] = os.getpid()
            local.held = held = (os.getpid(), db)
        g.db = held[1]
    return g.db


def end_request(exc=None):
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.conn.rollback()  # never carry a half-done transaction into the next request


def init_app(app):
    app.extensions["yizhan_db"] = threading.local()
    app.teardown_appcontext(end_request)
