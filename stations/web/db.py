"""One database connection per request, opened lazily (so after gunicorn forks)."""

from __future__ import annotations

from flask import current_app, g

from .. import storage

__all__ = ["get_db", "init_app"]


def get_db():
    """The request's sqlite-utils Database, migrated on first use by this process."""
    if "db" not in g:
        g.db = storage.connect(current_app.config["YIZHAN_DB"])
        if not current_app.extensions.get("yizhan_migrated"):
            storage.migrate(g.db)
            current_app.extensions["yizhan_migrated"] = True
    return g.db


def close_db(exc=None):
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app):
    app.teardown_appcontext(close_db)
