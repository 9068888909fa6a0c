"""Rate limits shared by every server process: sliding-window counters in SQLite.

Feedback submissions and failed logins are counted here.  Each counter is one
row per bucket and time window in ``rate_limits``; a check and the count it
allows happen in one ``BEGIN IMMEDIATE`` transaction, so two gunicorn workers
cannot both take the last place.  Clients are named by a keyed hash of their
address (``client_key``): enough to count, not to identify.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import time
from dataclasses import dataclass

from ..storage import write_transaction

__all__ = ["Limit", "RateLimited", "check_rate", "clock", "client_key", "cooldown_wait", "counts", "give_back",
           "name_key", "peek", "record", "start_cooldown", "take"]

clock = time.time  # the time every limit reads; tests replace it to move time without sleeping


class RateLimited(Exception):
    """Too many events in a bucket; ``scope`` names which limit, ``retry_after`` in seconds."""

    def __init__(self, scope: str, retry_after: int):
        super().__init__(f"rate limited ({scope}); retry after {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` events in ``bucket`` per ``window_s`` seconds; ``scope`` names it."""

    bucket: str
    limit: int
    window_s: int
    scope: str


def client_key(address: str, secret: str) -> str:
    """A keyed hash of the client address: enough to count, not to identify."""
    return hashlib.sha256(f"{secret}|{address}".encode()).hexdigest()[:24]


def name_key(name: str, secret: str) -> str:
    """A keyed hash of a typed name (bounded length, whatever was typed)."""
    return hmac.new(secret.encode(), name.encode(), hashlib.sha256).hexdigest()[:24]


def _counts(db, bucket: str, window: int) -> tuple[int, int]:
    counts = dict(db.execute("SELECT window, count FROM rate_limits WHERE bucket = ? "
                             "AND window IN (?, ?)", [bucket, window - 1, window]).fetchall())
    return counts.get(window - 1, 0), counts.get(window, 0)


def _estimate(previous: int, current: int, elapsed: float) -> float:
    # The previous window's count weighted by how much of it is still within one
    # window of now, plus the current window's: the limit does not reset at a boundary.
    return previous * (1 - elapsed) + current


def _wait(previous: int, current: int, limit: int, now: float, window_s: int) -> int:
    """Seconds until one more event fits under ``limit``."""
    window = int(now // window_s)
    elapsed = (now - window * window_s) / window_s
    room = limit - 1  # the estimate must fall to this before one more event fits
    if room < 0:
        return window_s  # a limit of zero: nothing ever fits; ask again in a window
    if current <= room and previous:
        # within this window, as the previous one's weight falls
        target = 1 - (room - current) / previous
        if target > elapsed:
            return max(1, math.ceil((target - elapsed) * window_s))
        return 1
    # in the next window the current count becomes the previous one
    target = 1 - room / current if current else 0
    return max(1, math.ceil((window + 1 + max(0.0, target)) * window_s - now))


def _count(db, bucket: str, window: int, window_s: int) -> None:
    db.execute("INSERT INTO rate_limits (bucket, window, count, expires_at) VALUES (?, ?, 1, ?) "
               "ON CONFLICT (bucket, window) DO UPDATE SET count = count + 1",
               [bucket, window, (window + 2) * window_s])


def _forget_old(db, now: float) -> None:
    # Now and then, forget windows no estimate can reach any more (every bucket).
    if random.random() < 1 / 32:
        db.execute("DELETE FROM rate_limits WHERE expires_at < ?", [now])


def counts(db, lim: Limit, *, now: float | None = None) -> tuple[int, int]:
    """The events counted in ``lim``'s bucket in the previous and in the current window."""
    now = clock() if now is None else now
    return _counts(db, lim.bucket, int(now // lim.window_s))


def peek(db, limits: list[Limit], *, now: float | None = None) -> None:
    """Raise RateLimited if one more event would pass any limit; count nothing."""
    now = clock() if now is None else now
    for lim in limits:
        window = int(now // lim.window_s)
        previous, current = _counts(db, lim.bucket, window)
        elapsed = (now - window * lim.window_s) / lim.window_s
        if _estimate(previous, current, elapsed) + 1 > lim.limit:
            raise RateLimited(lim.scope, _wait(previous, current, lim.limit, now, lim.window_s))


def take(db, limits: list[Limit], *, now: float | None = None) -> list[tuple[str, int, int]]:
    """Count one event in every bucket of ``limits``, or, if any is full, in none.

    Checks run in order (put the narrowest first: its scope is the one reported)
    and the counts are written in the same write transaction, so the check and
    the count are one step across processes.  A refused event costs no place in
    any bucket: one client hammering a full per-client limit leaves the global
    budget to everyone else.

    Returns what was taken, for ``give_back``.  Raises RateLimited.
    """
    now = clock() if now is None else now
    with write_transaction(db):
        peek(db, limits, now=now)
        taken = []
        for lim in limits:
            window = int(now // lim.window_s)
            _count(db, lim.bucket, window, lim.window_s)
            taken.append((lim.bucket, window, lim.window_s))
        _forget_old(db, now)
    return taken


def record(db, limits: list[Limit], *, now: float | None = None) -> None:
    """Count one event in every bucket of ``limits`` without checking them (a failure
    that already happened, e.g. a wrong password: it counts even past the limit)."""
    now = clock() if now is None else now
    with write_transaction(db):
        for lim in limits:
            _count(db, lim.bucket, int(now // lim.window_s), lim.window_s)
        _forget_old(db, now)


def give_back(db, taken: list[tuple[str, int, int]]) -> None:
    """Return places ``take`` counted (e.g. a login attempt that turned out right)."""
    with write_transaction(db):
        for bucket, window, _ in taken:
            db.execute("UPDATE rate_limits SET count = max(0, count - 1) "
                       "WHERE bucket = ? AND window = ?", [bucket, window])


def check_rate(db, bucket: str, limit: int, window_s: int, *, now: float | None = None) -> float:
    """Count one event in ``bucket``, refused or not; raise RateLimited past ``limit``.

    The older, simpler counter: every call counts, so a caller over the limit
    stays over it while it keeps calling.  Returns the estimated count.
    """
    now = clock() if now is None else now
    window = int(now // window_s)
    with write_transaction(db):
        _count(db, bucket, window, window_s)
        previous, current = _counts(db, bucket, window)
        _forget_old(db, now)
    elapsed = (now - window * window_s) / window_s
    estimate = _estimate(previous, current, elapsed)
    if estimate > limit:
        raise RateLimited(bucket.split(":")[0], int(window_s * (1 - elapsed)) + 1)
    return estimate


# --- one event per period, exactly -----------------------------------------------------
# A sliding window of limit 1 can refuse for up to two windows (the previous window's
# event weighs until the next one ends): "one per 30 minutes" would mean up to an hour.
# A cooldown keeps the time of the last event in the same table (window -1, ``count`` =
# its Unix second) and refuses exactly until that time plus the period.

def cooldown_wait(db, bucket: str, seconds: int, *, now: float | None = None) -> int:
    """Seconds left before ``bucket`` takes another event (0: it may now)."""
    now = clock() if now is None else now
    row = db.execute("SELECT count FROM rate_limits WHERE bucket = ? AND window = -1", [bucket]).fetchone()
    left = (row[0] + seconds - now) if row else 0
    return max(0, math.ceil(left))


def start_cooldown(db, bucket: str, seconds: int, *, now: float | None = None) -> None:
    """Note an event in ``bucket``: the next one waits ``seconds`` (call inside the write
    transaction that checked ``cooldown_wait``)."""
    now = clock() if now is None else now
    db.execute("INSERT INTO rate_limits (bucket, window, count, expires_at) VALUES (?, -1, ?, ?) "
               "ON CONFLICT (bucket, window) DO UPDATE SET count = excluded.count, "
               "expires_at = excluded.expires_at", [bucket, int(now), now + seconds])
