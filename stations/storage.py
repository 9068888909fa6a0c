"""Storage: SQLite through sqlite-utils, behind named functions.

Callers never build SQL; they call ``get_station``, ``search_stations``,
``insert_stations`` … and get plain dicts back.  The schema is built by ordered,
registered migrations; the version lives in ``PRAGMA user_version``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from .records import FIELDS, PRIVATE_FIELDS

__all__ = [
    "StationNotFound",
    "HistoryNotFound",
    "DatabaseBusy",
    "connect",
    "write_transaction",
    "is_busy_error",
    "migrate",
    "checkpoint",
    "schema_version",
    "MIGRATIONS",
    "now_iso",
    "get_station",
    "search_stations",
    "stations_in_bbox",
    "station_points",
    "station_point_arrays",
    "station_names",
    "station_index_rows",
    "stations_by_ids",
    "iter_stations",
    "count_stations",
    "insert_stations",
    "create_station",
    "update_station",
    "set_status",
    "station_history",
    "record_station_event",
    "restore_version",
    "data_version",
    "district_names",
    "registry_summary",
]

TZ = ZoneInfo("Asia/Shanghai")
_JSON_FIELDS = ("facilities", "awards")
_ALL_FIELDS = FIELDS + ("district_declared", "district_mismatch") + PRIVATE_FIELDS
_LATER_COLUMNS = ("note", "hours_text")  # added by m010
_DEFAULTS = {"address": "", "station_type": "warm_station", "facilities": "[]", "status": "active",
             "awards": "[]", "synthetic": 0, "district_mismatch": 0}


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


# --- migrations ------------------------------------------------------------

MIGRATIONS = []


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_stations_and_users(db):
    db.executescript("""
    CREATE TABLE stations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        district TEXT,
        district_declared TEXT,
        district_mismatch INTEGER NOT NULL DEFAULT 0,
        subdistrict TEXT,
        lon REAL NOT NULL,
        lat REAL NOT NULL,
        host_union TEXT,
        manager TEXT,
        manager_phone TEXT,
        station_type TEXT NOT NULL DEFAULT 'warm_station',
        hours TEXT,
        facilities TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'temporarily_closed', 'closed', 'pending')),
        awards TEXT NOT NULL DEFAULT '[]',
        synthetic INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_verified_at TEXT
    );
    CREATE INDEX stations_district ON stations(district);
    CREATE INDEX stations_status ON stations(status);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'planner')),
        union_name TEXT,
        created_at TEXT NOT NULL
    );
    """)


@migration
def m002_spatial_index(db):
    # R*Tree for bounding-box queries, kept in step with the table by triggers.
    db.executescript("""
    CREATE VIRTUAL TABLE stations_rtree USING rtree(id, minlon, maxlon, minlat, maxlat);
    INSERT INTO stations_rtree SELECT id, lon, lon, lat, lat FROM stations;
    CREATE TRIGGER stations_rtree_ins AFTER INSERT ON stations BEGIN
        INSERT INTO stations_rtree VALUES (new.id, new.lon, new.lon, new.lat, new.lat);
    END;
    CREATE TRIGGER stations_rtree_upd AFTER UPDATE OF lon, lat ON stations BEGIN
        UPDATE stations_rtree SET minlon = new.lon, maxlon = new.lon,
            minlat = new.lat, maxlat = new.lat WHERE id = new.id;
    END;
    CREATE TRIGGER stations_rtree_del AFTER DELETE ON stations BEGIN
        DELETE FROM stations_rtree WHERE id = old.id;
    END;
    """)


@migration
def m003_history_and_version(db):
    # History of every change; a counter that in-memory indexes watch for changes.
    db.executescript("""
    CREATE TABLE station_history (
        id INTEGER PRIMARY KEY,
        station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        username TEXT,
        action TEXT NOT NULL,
        before TEXT,
        after TEXT
    );
    CREATE INDEX station_history_station ON station_history(station_id, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta VALUES ('stations_version', 0);
    CREATE TRIGGER stations_version_ins AFTER INSERT ON stations BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'stations_version';
    END;
    CREATE TRIGGER stations_version_upd AFTER UPDATE ON stations BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'stations_version';
    END;
    CREATE TRIGGER stations_version_del AFTER DELETE ON stations BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'stations_version';
    END;
    """)


@migration
def m004_feedback_and_rate_limits(db):
    # Rider feedback (anonymous), and counters shared by every server process.
    db.executescript("""
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        rating INTEGER CHECK (rating BETWEEN 1 AND 5),
        found TEXT NOT NULL DEFAULT '[]',
        note TEXT,
        flag TEXT CHECK (flag IN ('closed', 'not_found', 'moved')),
        client TEXT,
        resolved_at TEXT,
        resolved_by TEXT
    );
    CREATE INDEX feedback_station ON feedback(station_id, id);
    CREATE INDEX feedback_open_flags ON feedback(flag, resolved_at);
    CREATE TABLE rate_limits (
        bucket TEXT NOT NULL,
        window INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (bucket, window)
    );
    """)


@migration
def m005_sessions_and_limit_expiry(db):
    # Server-side sessions, so logout, password and role changes end a login for
    # good (the cookie holds a random token; the table only its SHA-256).  Rate
    # counters learn when they expire, so every bucket's old windows can be dropped.
    # One statement at a time: executescript would commit the migration's transaction.
    db.execute("""
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""")
    db.execute("CREATE INDEX sessions_user ON sessions(user_id)")
    db.execute("CREATE INDEX sessions_expiry ON sessions(expires_at)")
    db.execute("ALTER TABLE rate_limits ADD COLUMN expires_at REAL NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX rate_limits_expiry ON rate_limits(expires_at)")


@migration
def m006_import_jobs(db):
    # Web imports run as background jobs (stations/jobs.py): the upload waits in the
    # instance folder, a separate process works through it and leaves the report here.
    db.execute("""
    CREATE TABLE import_jobs (
        id INTEGER PRIMARY KEY,
        created_by TEXT,
        filename TEXT NOT NULL,
        upload TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'running', 'done', 'failed')),
        rows_done INTEGER NOT NULL DEFAULT 0,
        rows_total INTEGER,
        written INTEGER NOT NULL DEFAULT 0,
        report TEXT,
        pid INTEGER,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
    )""")
    db.execute("CREATE INDEX import_jobs_state ON import_jobs(state)")


@migration
def m007_coverage_demand_layers(db):
    # Planners' demand layers (stations/coverage/demand.py): the points are one BLOB of
    # little-endian float64 (lon, lat, weight) triples in WGS-84, read back as an array.
    db.execute("""
    CREATE TABLE demand_layers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        filename TEXT,
        datum TEXT NOT NULL DEFAULT 'wgs84',
        points INTEGER NOT NULL,
        total_weight REAL NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT,
        data BLOB NOT NULL
    )""")


def _rebuild_users_for_union_role(db):
    # users has CHECK (role IN (...)): adding 'union' means rebuilding the table.
    # PRAGMA foreign_keys cannot be turned off inside the migration's transaction, and
    # dropping users with it on would empty every table that references users through
    # ON DELETE CASCADE (sessions): so those tables are kept aside (definition, indexes,
    # triggers, rows), dropped, and made again around the rebuild.
    def quoted(name):
        return '"' + name.replace('"', '""') + '"'

    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    referencing = [t for t in tables if t != "users" and any(
        fk[2] == "users" for fk in db.execute(f"PRAGMA foreign_key_list({quoted(t)})"))]
    kept = []
    for table in referencing:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                         [table]).fetchone()[0]
        extras = [r[0] for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL", [table])]
        cursor = db.execute(f"SELECT * FROM {quoted(table)}")
        columns = [c[0] for c in cursor.description]
        kept.append((table, sql, extras, columns, cursor.fetchall()))
        db.execute(f"DROP TABLE {quoted(table)}")
    old = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'").fetchone()[0]
    check = "CHECK (role IN ('admin', 'reviewer', 'planner'))"
    if check not in old:
        raise RuntimeError("m008: the users table's role check is not the one m001 made")
    new = old.replace(check, "CHECK (role IN ('admin', 'reviewer', 'planner', 'union'))")
    new = new.replace("CREATE TABLE users", "CREATE TABLE users_m008", 1)
    users_extras = [r[0] for r in db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'users' AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL")]
    db.execute(new)
    db.execute("INSERT INTO users_m008 SELECT * FROM users")
    db.execute("DROP TABLE users")
    db.execute("ALTER TABLE users_m008 RENAME TO users")
    for sql in users_extras:
        db.execute(sql)
    for table, sql, extras, columns, rows in kept:
        db.execute(sql)
        if rows:
            db.conn.executemany(
                f"INSERT INTO {quoted(table)} ({', '.join(quoted(c) for c in columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})", rows)
        for extra in extras:
            db.execute(extra)


@migration
def m008_campaigns_union_role_tokens(db):
    # The 最美站点 selection (stations/campaign/): campaigns with their stage log,
    # nominations and photos, reviewer assignments, reviews, public objections, awards,
    # and each station's 七有 checklists; the grassroots-union role; API tokens (hashed).
    _rebuild_users_for_union_role(db)
    statements = [
        """CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX api_tokens_user ON api_tokens(user_id)",
        """CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            year INTEGER NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('national', 'municipal', 'district')),
            quota INTEGER NOT NULL,
            subsidy_yuan INTEGER NOT NULL,
            reviewers_per_station INTEGER NOT NULL,
            notice_days INTEGER NOT NULL DEFAULT 7,
            stage TEXT NOT NULL DEFAULT 'nomination'
                CHECK (stage IN ('nomination', 'review', 'notice', 'confirmed')),
            rubric TEXT NOT NULL,
            normalise INTEGER NOT NULL DEFAULT 0,
            ranking TEXT,
            notice_start TEXT,
            notice_end TEXT,
            created_by TEXT,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE campaign_events (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            username TEXT,
            kind TEXT NOT NULL,
            from_stage TEXT,
            to_stage TEXT,
            reason TEXT,
            detail TEXT
        )""",
        "CREATE INDEX campaign_events_campaign ON campaign_events(campaign_id, id)",
        """CREATE TABLE nominations (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            station_id INTEGER NOT NULL REFERENCES stations(id),
            union_name TEXT,
            nominated_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT,
            removed_reason TEXT,
            UNIQUE (campaign_id, station_id)
        )""",
        """CREATE TABLE nomination_photos (
            id INTEGER PRIMARY KEY,
            nomination_id INTEGER NOT NULL REFERENCES nominations(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            content_type TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX nomination_photos_nomination ON nomination_photos(nomination_id)",
        """CREATE TABLE assignments (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            station_id INTEGER NOT NULL REFERENCES stations(id),
            reviewer_id INTEGER NOT NULL REFERENCES users(id),
            assigned_by TEXT,
            assigned_at TEXT NOT NULL,
            PRIMARY KEY (campaign_id, station_id, reviewer_id)
        )""",
        "CREATE INDEX assignments_reviewer ON assignments(campaign_id, reviewer_id)",
        """CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            station_id INTEGER NOT NULL REFERENCES stations(id),
            reviewer_id INTEGER NOT NULL REFERENCES users(id),
            scores TEXT NOT NULL DEFAULT '{}',
            items TEXT NOT NULL DEFAULT '[]',
            notes TEXT NOT NULL DEFAULT '{}',
            note TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            submitted_at TEXT,
            UNIQUE (campaign_id, station_id, reviewer_id)
        )""",
        """CREATE TABLE objections (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            station_id INTEGER NOT NULL REFERENCES stations(id),
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'upheld', 'rejected')),
            resolved_by TEXT,
            resolved_at TEXT,
            resolution TEXT
        )""",
        "CREATE INDEX objections_campaign ON objections(campaign_id, state)",
        """CREATE TABLE awards (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            station_id INTEGER NOT NULL REFERENCES stations(id),
            rank INTEGER NOT NULL,
            total REAL NOT NULL,
            subsidy_yuan INTEGER NOT NULL,
            confirmed_at TEXT NOT NULL,
            PRIMARY KEY (campaign_id, station_id)
        )""",
        """CREATE TABLE checklists (
            id INTEGER PRIMARY KEY,
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('campaign', 'inspection')),
            campaign_id INTEGER REFERENCES campaigns(id),
            kind TEXT,
            username TEXT,
            total REAL NOT NULL,
            criteria TEXT NOT NULL,
            rubric TEXT NOT NULL
        )""",
        "CREATE INDEX checklists_station ON checklists(station_id, id)",
    ]
    for sql in statements:  # one at a time: executescript would commit the transaction
        db.execute(sql)



_LEDGER_VISITORS = ("rider", "courier", "sanitation", "driver", "trucker", "other")
_LEDGER_SERVICES = ("water", "meal_heating", "charging", "toilet", "rest", "first_aid", "legal_aid",
                    "other")


@migration
def m009_ledger(db):
    # The service ledger (stations/ledger/): one row per station and day with a count per
    # visitor kind (v_*) and service (s_*), overwritten rows kept in ledger_history; 双沟通
    # meetings (counts only, no personal data); riders' check-ins as counts per station and
    # day (no client stored); ledger_months, a per-station monthly summary that triggers
    # keep up to date on every write, so reports over a year of 30,000 stations read
    # 360,000 rows instead of 11 million; reviews of consistency flags.
    counts = [f"v_{k}" for k in _LEDGER_VISITORS] + [f"s_{k}" for k in _LEDGER_SERVICES]
    visits = " + ".join(f"{{0}}.v_{k}" for k in _LEDGER_VISITORS)
    services = " + ".join(f"{{0}}.s_{k}" for k in _LEDGER_SERVICES)
    count_defs = ",\n".join(f"            {c} INTEGER NOT NULL DEFAULT 0" for c in counts)
    statements = [
        f"""CREATE TABLE ledger_entries (
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            date TEXT NOT NULL,
{count_defs},
            note TEXT,
            saved_at INTEGER NOT NULL,
            saved_by TEXT,
            synthetic INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (station_id, date)
        ) WITHOUT ROWID""",
        """CREATE TABLE ledger_history (
            id INTEGER PRIMARY KEY,
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            date TEXT NOT NULL,
            replaced_at TEXT NOT NULL,
            replaced_by TEXT,
            before TEXT NOT NULL
        )""",
        "CREATE INDEX ledger_history_day ON ledger_history(station_id, date, id)",
        f"""CREATE TABLE ledger_months (
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            month TEXT NOT NULL,
            entries INTEGER NOT NULL DEFAULT 0,
            visits INTEGER NOT NULL DEFAULT 0,
            services INTEGER NOT NULL DEFAULT 0,
{count_defs},
            checkins INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (station_id, month)
        ) WITHOUT ROWID""",
        """CREATE TABLE checkin_days (
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            date TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (station_id, date)
        ) WITHOUT ROWID""",
        """CREATE TABLE meetings (
            id INTEGER PRIMARY KEY,
            date TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('worker', 'enterprise')),
            station_id INTEGER REFERENCES stations(id) ON DELETE SET NULL,
            place TEXT,
            district TEXT NOT NULL,
            attendees INTEGER NOT NULL DEFAULT 0,
            companies INTEGER NOT NULL DEFAULT 0,
            new_members INTEGER NOT NULL DEFAULT 0,
            new_unions INTEGER NOT NULL DEFAULT 0,
            note TEXT,
            union_name TEXT,
            created_by TEXT,
            created_at TEXT NOT NULL,
            synthetic INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX meetings_date ON meetings(date)",
        "CREATE INDEX meetings_district ON meetings(district, date)",
        "CREATE INDEX meetings_station ON meetings(station_id)",
        """CREATE TABLE ledger_flag_reviews (
            id INTEGER PRIMARY KEY,
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            reviewed_at TEXT NOT NULL,
            reviewed_by TEXT,
            note TEXT,
            quiet_until TEXT NOT NULL
        )""",
        "CREATE INDEX ledger_flag_reviews_station ON ledger_flag_reviews(station_id, kind)",
    ]
    sums = ", ".join(counts)
    new_values = ", ".join(f"new.{c}" for c in counts)
    add = ", ".join(f"{c} = {c} + excluded.{c}" for c in counts)
    take_old = ", ".join(f"{c} = {c} - old.{c}" for c in counts)
    upsert_new = (
        f"INSERT INTO ledger_months (station_id, month, entries, visits, services, {sums}) "
        f"VALUES (new.station_id, substr(new.date, 1, 7), 1, {visits.format('new')}, "
        f"{services.format('new')}, {new_values}) ON CONFLICT (station_id, month) DO UPDATE SET "
        f"entries = entries + 1, visits = visits + excluded.visits, "
        f"services = services + excluded.services, {add};")
    remove_old = (
        f"UPDATE ledger_months SET entries = entries - 1, visits = visits - ({visits.format('old')}), "
        f"services = services - ({services.format('old')}), {take_old} "
        f"WHERE station_id = old.station_id AND month = substr(old.date, 1, 7);")
    checkin_upsert = (
        "INSERT INTO ledger_months (station_id, month, checkins) VALUES "
        "(new.station_id, substr(new.date, 1, 7), {0}) ON CONFLICT (station_id, month) "
        "DO UPDATE SET checkins = checkins + excluded.checkins;")
    statements += [
        f"CREATE TRIGGER ledger_months_ins AFTER INSERT ON ledger_entries BEGIN {upsert_new} END",
        f"CREATE TRIGGER ledger_months_del AFTER DELETE ON ledger_entries BEGIN {remove_old} END",
        f"CREATE TRIGGER ledger_months_upd AFTER UPDATE ON ledger_entries BEGIN {remove_old} {upsert_new} END",
        f"CREATE TRIGGER checkin_months_ins AFTER INSERT ON checkin_days BEGIN "
        f"{checkin_upsert.format('new.count')} END",
        f"CREATE TRIGGER checkin_months_upd AFTER UPDATE OF count ON checkin_days BEGIN "
        f"{checkin_upsert.format('new.count - old.count')} END",
    ]
    for sql in statements:  # one at a time: executescript would commit the transaction
        db.execute(sql)


@migration
def m010_station_note_and_typed_hours(db):
    # A station's note (a 备注 column of a union's spreadsheet: often names and phone
    # numbers, so private like the manager) and the opening hours as the organiser typed
    # them (shown back in the form and to riders; ``hours`` keeps the parsed form).
    db.execute("ALTER TABLE stations ADD COLUMN note TEXT")
    db.execute("ALTER TABLE stations ADD COLUMN hours_text TEXT")


def checkpoint(db) -> None:
    """Fold the write-ahead log into the database file and truncate it (after big writes).

    Does not wait: while another writer works the checkpoint is left to its commits
    (TRUNCATE would otherwise sit out the whole busy timeout).
    """
    timeout = db.execute("PRAGMA busy_timeout").fetchone()[0]
    db.execute("PRAGMA busy_timeout = 0")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def schema_version(db) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db, target: int | None = None) -> tuple[int, int]:
    """Apply the migrations the database has not had yet, each in its own transaction.

    Returns (version before, version after).
    """
    target = len(MIGRATIONS) if target is None else target
    start = current = schema_version(db)
    while current < target:
        with write_transaction(db):
            # Read again under the write lock: another process may have migrated meanwhile.
            current = schema_version(db)
            if current >= target:
                break
            MIGRATIONS[current](db)
            current += 1
            db.execute(f"PRAGMA user_version = {int(current)}")
    return start, current


# --- reading ----------------------------------------------------------------

def _decode(row: dict, private: bool) -> dict:
    row = dict(row)
    for name in _JSON_FIELDS:
        if name in row:
            row[name] = json.loads(row[name] or "[]")
    if "synthetic" in row:
        row["synthetic"] = bool(row["synthetic"])
    if "district_mismatch" in row:
        row["district_mismatch"] = bool(row["district_mismatch"])
    if not private:
        for name in PRIVATE_FIELDS:
            row.pop(name, None)
    return row


def get_station(db, station_id, *, private: bool = False) -> dict:
    """One station by id; private fields (manager, phone) only when asked for."""
    try:
        station_id = int(station_id)
    except (TypeError, ValueError):
        raise StationNotFound(station_id) from None
    if not 0 < station_id < 2**63:  # beyond SQLite's integers: no such station
        raise StationNotFound(station_id)
    rows = list(db.query("SELECT * FROM stations WHERE id = ?", [station_id]))
    if not rows:
        raise StationNotFound(station_id)
    return _decode(rows[0], private)


def _where(q=None, district=None, status=None, facility=None, bbox=None,
           statuses=None, ids=None, mismatch=False, awarded=False, min_qiyou=None):
    clauses, params = [], []
    if awarded:  # at least one award on the record (获奖)
        clauses.append("awards NOT IN ('', '[]')")
    if min_qiyou is not None:  # the latest 七有 checklist's total (campaign.checklist keeps them)
        clauses.append("id IN (SELECT station_id FROM checklists WHERE id IN "
                       "(SELECT max(id) FROM checklists GROUP BY station_id) AND total >= ?)")
        params.append(float(min_qiyou))
    if mismatch:  # the declared district differs from the one the coordinates lie in
        clauses.append("district_mismatch = 1")
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')")
        params += [like, like]
    if district:
        clauses.append("district = ?")
        params.append(district)
    if status:
        clauses.append("status = ?")
        params.append(status)
    elif statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params += list(statuses)
    for code in ([facility] if isinstance(facility, str) else facility or []):
        clauses.append("EXISTS (SELECT 1 FROM json_each(stations.facilities) WHERE value = ?)")
        params.append(code)
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        clauses.append("id IN (SELECT id FROM stations_rtree WHERE minlon >= ? AND maxlon <= ?"
                       " AND minlat >= ? AND maxlat <= ?)")
        params += [minlon, maxlon, minlat, maxlat]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def search_stations(db, *, q=None, district=None, status=None, facility=None, bbox=None,
                    statuses=None, limit=20, offset=0, private=False, mismatch=False,
                    awarded=False, min_qiyou=None):
    """Stations matching every given filter, by id; returns (rows, total count).

    ``q`` matches a substring of name or address; ``facility`` is a code or a list
    of codes that must all be present; ``bbox`` is (minlon, minlat, maxlon, maxlat)
    in WGS-84; ``statuses`` limits the statuses when ``status`` is not given;
    ``mismatch`` keeps stations whose declared district is not where they lie;
    ``awarded`` those with an award; ``min_qiyou`` those whose latest 七有 total is at least this.
    """
    where, params = _where(q, district, status, facility, bbox, statuses, mismatch=mismatch,
                           awarded=awarded, min_qiyou=min_qiyou)
    total = db.execute(f"SELECT count(*) FROM stations{where}", params).fetchone()[0]
    rows = db.query(f"SELECT * FROM stations{where} ORDER BY id LIMIT ? OFFSET ?",
                    params + [int(limit), int(offset)])
    return [_decode(r, private) for r in rows], total


def stations_in_bbox(db, bbox, *, statuses=None, limit=10000):
    """Stations inside a WGS-84 bounding box, through the R*Tree index."""
    rows, _ = search_stations(db, bbox=bbox, statuses=statuses, limit=limit)
    return rows


def count_stations(db, **filters) -> int:
    where, params = _where(**filters)
    return db.execute(f"SELECT count(*) FROM stations{where}", params).fetchone()[0]


def station_points(db, *, statuses=None):
    """(id, name, lon, lat) for every station, for spatial indexes and duplicate checks."""
    where, params = _where(statuses=statuses)
    return db.execute(f"SELECT id, name, lon, lat FROM stations{where} ORDER BY id",
                      params).fetchall()


def station_point_arrays(db):
    """(ids, lons, lats) of every station as numpy arrays (compact, for big duplicate checks)."""
    import numpy as np

    ids, lons, lats = [], [], []
    for row in db.execute("SELECT id, lon, lat FROM stations ORDER BY id"):
        ids.append(row[0])
        lons.append(row[1])
        lats.append(row[2])
    return (np.array(ids, dtype=np.int64), np.array(lons, dtype=float),
            np.array(lats, dtype=float))


def station_names(db, ids) -> dict:
    """{id: name} for the given station ids."""
    ids = [int(i) for i in ids]
    out = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out.update(db.execute(f"SELECT id, name FROM stations WHERE id IN "
                              f"({', '.join('?' for _ in chunk)})", chunk).fetchall())
    return out


def station_index_rows(db) -> list[dict]:
    """The narrow rows a nearest-search index needs: every station not pending."""
    rows = db.execute("SELECT id, lon, lat, status, facilities, hours FROM stations "
                      "WHERE status != 'pending' ORDER BY id").fetchall()
    return [{"id": r[0], "lon": r[1], "lat": r[2], "status": r[3],
             "facilities": json.loads(r[4]), "hours": r[5]} for r in rows]


def stations_by_ids(db, ids) -> dict:
    """{id: public record} for the given ids (missing ones are left out)."""
    ids = [int(i) for i in ids]
    out = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = db.query(f"SELECT * FROM stations WHERE id IN ({', '.join('?' for _ in chunk)})", chunk)
        out.update((r["id"], _decode(r, private=False)) for r in rows)
    return out


def iter_stations(db, *, private=False, statuses=None):
    """Every station in id order, decoded (for exports)."""
    where, params = _where(statuses=statuses)
    for row in db.query(f"SELECT * FROM stations{where} ORDER BY id", params):
        yield _decode(row, private)


def registry_summary(db) -> dict:
    """Counts for the organiser's home page."""
    by_status = dict(db.execute("SELECT status, count(*) FROM stations GROUP BY status").fetchall())
    one = db.execute("SELECT count(*), sum(district_mismatch), sum(synthetic) FROM stations").fetchone()
    return {"total": one[0], "by_status": by_status, "district_mismatch": one[1] or 0,
            "synthetic": one[2] or 0}


def district_names(db) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT DISTINCT district FROM stations WHERE district IS NOT NULL ORDER BY district")]


def data_version(db) -> int:
    """A number that changes whenever any station changes."""
    return db.execute("SELECT value FROM meta WHERE key = 'stations_version'").fetchone()[0]


# --- writing ----------------------------------------------------------------

def _encode(record: dict) -> dict:
    row = {k: v for k, v in record.items() if k in _ALL_FIELDS}  # a whitelist: names go into SQL
    for name in _JSON_FIELDS:
        if name in row and not isinstance(row[name], str):
            row[name] = json.dumps(list(row[name] or []), ensure_ascii=False)
    for name in ("synthetic", "district_mismatch"):
        if name in row:
            row[name] = int(bool(row[name]))
    return row


def _record_history(db, station_id, username, action, before, after):
    db["station_history"].insert({
        "station_id": station_id, "at": now_iso(), "username": username, "action": action,
        "before": json.dumps(before, ensure_ascii=False) if before is not None else None,
        "after": json.dumps(after, ensure_ascii=False) if after is not None else None,
    })


def record_station_event(db, station_id, action: str, *, username=None) -> None:
    """Record something done about a station that changed no field (e.g. rider reports
    resolved: ``resolve:false_report:3``) in its history.  Call inside the caller's
    write transaction."""
    _record_history(db, int(station_id), username, action, None, None)


def insert_stations(db, records, *, username=None, action="import") -> list[int]:
    """Insert new stations (or update those whose ``id`` exists) in one transaction.

    Every insert and update is written to the history.  All or nothing: an error
    on any record rolls back every record.  New stations are written in bulk
    with ids assigned here, so 200,000 rows take seconds, not minutes.
    """
    records = list(records)
    stamp = now_iso()
    ids = []
    with write_transaction(db):
        wanted = [int(r["id"]) for r in records if r.get("id") is not None]
        existing = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            existing.update(row[0] for row in db.execute(
                f"SELECT id FROM stations WHERE id IN ({', '.join('?' for _ in chunk)})", chunk))
        next_id = (db.execute("SELECT max(id) FROM stations").fetchone()[0] or 0) + 1
        next_id = max([next_id] + [i + 1 for i in wanted])
        new_rows, history = [], []
        for record in records:
            if record.get("id") is not None and int(record["id"]) in existing:
                changes = {k: v for k, v in record.items() if k != "id"}
                update_station(db, record["id"], changes, username=username, action=action)
                ids.append(int(record["id"]))
                continue
            row = {name: None for name in _ALL_FIELDS}
            row.update(_encode(record))
            row.update({k: v for k, v in _DEFAULTS.items() if row[k] is None})
            if row["id"] is None:
                row["id"], next_id = next_id, next_id + 1
            row["created_at"] = row["created_at"] or stamp
            row["updated_at"] = row["updated_at"] or stamp
            new_rows.append(row)
            after = _decode(row, private=True)
            history.append((row["id"], stamp, username, action,
                            json.dumps(after, ensure_ascii=False)))
            ids.append(row["id"])
        if new_rows:
            # Columns later migrations added only when used: an older file (a backup
            # being restored, a test at an old version) still takes plain stations.
            columns = [c for c in new_rows[0] if c not in _LATER_COLUMNS
                       or any(row[c] is not None for row in new_rows)]
            db.conn.executemany(
                f"INSERT INTO stations ({', '.join(columns)}) VALUES "
                f"({', '.join('?' for _ in columns)})",
                [[row[c] for c in columns] for row in new_rows])
            db.conn.executemany(
                "INSERT INTO station_history (station_id, at, username, action, before, after) "
                "VALUES (?, ?, ?, ?, NULL, ?)", history)
    return ids


def create_station(db, record: dict, *, username=None) -> int:
    """Insert one new station; returns its id."""
    record = {k: v for k, v in record.items() if k != "id"}
    return insert_stations(db, [record], username=username, action="create")[0]


def update_station(db, station_id, changes: dict, *, username=None, action="edit") -> dict:
    """Change some fields of a station, recording before and after; returns the new record."""
    if "hours" in changes and "hours_text" not in changes:
        changes = dict(changes, hours_text=None)  # typed words of other hours would mislead
    with write_transaction(db):
        before = get_station(db, station_id, private=True)
        row = _encode({k: v for k, v in changes.items() if k not in ("id", "created_at")})
        row["updated_at"] = now_iso()
        sets = ", ".join(f"{name} = ?" for name in row)
        db.execute(f"UPDATE stations SET {sets} WHERE id = ?", list(row.values()) + [before["id"]])
        after = get_station(db, station_id, private=True)
        _record_history(db, before["id"], username, action, before, after)
    return after


def set_status(db, station_id, status: str, *, username=None) -> dict:
    """Close, reopen or suspend a station (a recorded change like any edit)."""
    action = {"closed": "close", "active": "reopen"}.get(status, "status")
    return update_station(db, station_id, {"status": status}, username=username, action=action)


def station_history(db, station_id) -> list[dict]:
    """The station's changes, newest first, with before/after decoded."""
    rows = db.query("SELECT * FROM station_history WHERE station_id = ? ORDER BY id DESC",
                    [int(station_id)])
    out = []
    for row in rows:
        row = dict(row)
        row["before"] = json.loads(row["before"]) if row["before"] else None
        row["after"] = json.loads(row["after"]) if row["after"] else None
        out.append(row)
    return out


def restore_version(db, station_id, history_id, *, username=None) -> dict:
    """Make the station as it was after history entry ``history_id`` (itself recorded)."""
    if not 0 < int(history_id) < 2**63:
        raise HistoryNotFound(f"station {station_id} has no version {history_id}")
    rows = list(db.query("SELECT * FROM station_history WHERE id = ? AND station_id = ?",
                         [int(history_id), int(station_id)]))
    if not rows or not rows[0]["after"]:
        raise HistoryNotFound(f"station {station_id} has no version {history_id}")
    version = json.loads(rows[0]["after"])
    changes = {k: v for k, v in version.items()
               if k in _ALL_FIELDS and k not in ("id", "created_at", "updated_at")}
    return update_station(db, station_id, changes, username=username,
                          action=f"restore:{int(history_id)}")
