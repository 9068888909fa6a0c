"""Opening the database and write transactions that wait their turn (BEGIN IMMEDIATE)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

__all__ = [
    "StationNotFound",
    "HistoryNotFound",
    "DatabaseBusy",
    "connect",
    "write_transaction",
    "is_busy_error",
    "now_iso",
]

TZ = ZoneInfo("Asia/Shanghai")


class StationNotFound(LookupError):
    """No station has this id."""

    def __init__(self, station_id):
        super().__init__(f"no station with id {station_id!r}")
        self.station_id = station_id


class HistoryNotFound(LookupError):
    """No history entry with this id for this station."""


class DatabaseBusy(Exception):
    """Another writer held the database longer than the busy timeout; try again later."""

    retry_after = 5  # seconds a client is asked to wait before retrying

    def __init__(self, detail: str = "database is locked"):
        super().__init__(f"database busy: {detail}")


def now_iso() -> str:
    return datetime.now(TZ).isoformat(timespec="seconds")


def connect(path: str | Path, *, busy_timeout_ms: int = 10000) -> sqlite_utils.Database:
    """Open the database file with the settings a web app needs.

    WAL lets readers run beside one writer; ``busy_timeout_ms`` is how long a
    writer waits for another writer's lock before DatabaseBusy; ``synchronous=FULL``
    keeps a committed import through a power cut.  Every transaction the returned
    Database opens (``atomic()``, and so sqlite-utils' own ``insert``/``upsert``)
    starts with ``BEGIN IMMEDIATE``: see ``write_transaction``.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    busy_timeout_ms = max(0, int(busy_timeout_ms))
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    db = _Database(conn)
    db.busy_timeout_ms = busy_timeout_ms
    if str(path) != ":memory:":
        with db.ensure_autocommit_on():
            conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA journal_size_limit = 67108864")  # a big import's WAL shrinks back
    conn.execute("PRAGMA foreign_keys = ON")
    return db


# --- transactions ----------------------------------------------------------

_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_BUSY_SLICE_MS = 50


def is_busy_error(exc: BaseException) -> bool:
    """Whether a sqlite3 error means "another connection holds the lock"."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return str(exc).startswith(("database is locked", "database table is locked",
                                "database is busy"))


@contextlib.contextmanager
def write_transaction(db):
    """Run the block in a write transaction that takes the write lock up front.

    sqlite-utils' plain ``atomic()`` opens a deferred ``BEGIN``: the first read
    takes a snapshot, and WAL refuses to upgrade a reader to a writer while
    another writer holds the lock — at once, without waiting, because waiting
    could deadlock.  ``BEGIN IMMEDIATE`` asks for the write lock before any read,
    so the busy timeout applies and writers wait their turn.  A lock that is
    still held when the timeout runs out raises DatabaseBusy (nothing written).

    Inside an open transaction the block becomes a savepoint, so write helpers
    nest (``insert_stations`` calls ``update_station``).

    Examples
    --------
    >>> with write_transaction(db):
    ...     db.execute("UPDATE meta SET value = value + 1 WHERE key = 'stations_version'")
    """
    conn = db.conn
    if conn.in_transaction:
        with sqlite_utils.Database.atomic(db):  # a savepoint inside the open transaction
            yield db
        return
    _begin_immediate(db)
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if is_busy_error(exc):  # e.g. a COMMIT that had to wait for readers (rollback journal)
            raise DatabaseBusy(str(exc)) from exc
        raise


def _begin_immediate(db) -> None:
    """BEGIN IMMEDIATE, retried with growing pauses until ``db.busy_timeout_ms`` runs out.

    SQLite's own busy wait sleeps in C, which stalls a whole gevent worker (every
    request it serves), so here SQLite waits only a short slice per attempt and
    the pauses between attempts are Python's ``time.sleep``: other threads, and
    under gevent other requests of the same worker, run meanwhile.
    """
    conn, total_ms = db.conn, getattr(db, "busy_timeout_ms", None)
    if total_ms is None:  # a Database not opened by connect(): SQLite's own wait
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy_error(exc):
                raise DatabaseBusy(str(exc)) from exc
            raise
        return
    deadline = time.monotonic() + total_ms / 1000
    pause = 0.005
    conn.execute(f"PRAGMA busy_timeout = {min(total_ms, _BUSY_SLICE_MS)}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                left = deadline - time.monotonic()
                if not is_busy_error(exc):
                    raise
                if left <= 0:
                    raise DatabaseBusy(str(exc)) from exc
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.1)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {total_ms}")  # single statements wait as before


class _Database(sqlite_utils.Database):
    """sqlite-utils' Database whose every transaction is a write_transaction."""

    def atomic(self):
        return write_transaction(self)
