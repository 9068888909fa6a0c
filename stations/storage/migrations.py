"""The schema: ordered, registered migrations; the version lives in PRAGMA user_version."""

from __future__ import annotations



from .connection import write_transaction, now_iso  # noqa: F401

__all__ = [
    "migrate",
    "checkpoint",
    "schema_version",
    "MIGRATIONS",
]

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


@migration
def m011_ledger_district_days_and_job_kinds(db):
    # Reports by district: ledger_district_days holds the sums of the ledger and the
    # check-ins per district and day (a few thousand rows a year instead of 11 million
    # entries), kept up to date by triggers on the entries, the check-ins and the
    # stations (a station whose district changes moves its sums; a deleted station takes
    # its sums away before its entries go).  A station without a district counts under ''.
    # import_jobs.kind tells the station import's jobs from the ledger's month imports.
    counts = [f"v_{k}" for k in _LEDGER_VISITORS] + [f"s_{k}" for k in _LEDGER_SERVICES]
    visits = " + ".join(f"{{0}}.v_{k}" for k in _LEDGER_VISITORS)
    services = " + ".join(f"{{0}}.s_{k}" for k in _LEDGER_SERVICES)
    count_defs = ",\n".join(f"            {c} INTEGER NOT NULL DEFAULT 0" for c in counts)
    db.execute(f"""CREATE TABLE ledger_district_days (
            date TEXT NOT NULL,
            district TEXT NOT NULL,
            entries INTEGER NOT NULL DEFAULT 0,
            visits INTEGER NOT NULL DEFAULT 0,
            services INTEGER NOT NULL DEFAULT 0,
{count_defs},
            checkins INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (date, district)
        ) WITHOUT ROWID""")
    columns = ", ".join(["entries", "visits", "services"] + counts)
    add = ", ".join(f"{c} = {c} + excluded.{c}" for c in ["entries", "visits", "services"] + counts)
    on_conflict = f"ON CONFLICT (date, district) DO UPDATE SET {add}"

    def entry_sums(row, sign):  # one entry's figures, with a sign
        return ", ".join([f"{sign}1", f"{sign}({visits.format(row)})", f"{sign}({services.format(row)})"]
                         + [f"{sign}{row}.{c}" for c in counts])

    def station_sums(district, sign, station):  # a station's figures per day, with a sign
        sums = ", ".join([f"{sign}count(*)", f"{sign}sum({visits.format('e')})",
                          f"{sign}sum({services.format('e')})"] + [f"{sign}sum(e.{c})" for c in counts])
        return (f"INSERT INTO ledger_district_days (date, district, {columns}) "
                f"SELECT e.date, coalesce({district}, ''), {sums} FROM ledger_entries e "
                f"WHERE e.station_id = {station} GROUP BY e.date {on_conflict}; "
                f"INSERT INTO ledger_district_days (date, district, checkins) "
                f"SELECT c.date, coalesce({district}, ''), {sign}c.count FROM checkin_days c "
                f"WHERE c.station_id = {station} AND true "
                f"ON CONFLICT (date, district) DO UPDATE SET checkins = checkins + excluded.checkins;")

    def one_entry(row, sign):  # nothing when the station is gone (its own trigger took the sums)
        return (f"INSERT INTO ledger_district_days (date, district, {columns}) "
                f"SELECT {row}.date, coalesce(s.district, ''), {entry_sums(row, sign)} FROM stations s "
                f"WHERE s.id = {row}.station_id {on_conflict};")

    def checkins(row, value):
        return (f"INSERT INTO ledger_district_days (date, district, checkins) "
                f"SELECT {row}.date, coalesce(s.district, ''), {value} FROM stations s "
                f"WHERE s.id = {row}.station_id "
                f"ON CONFLICT (date, district) DO UPDATE SET checkins = checkins + excluded.checkins;")

    statements = [
        f"CREATE TRIGGER ledger_district_days_ins AFTER INSERT ON ledger_entries BEGIN "
        f"{one_entry('new', '')} END",
        f"CREATE TRIGGER ledger_district_days_del AFTER DELETE ON ledger_entries BEGIN "
        f"{one_entry('old', '-')} END",
        f"CREATE TRIGGER ledger_district_days_upd AFTER UPDATE ON ledger_entries BEGIN "
        f"{one_entry('old', '-')} {one_entry('new', '')} END",
        f"CREATE TRIGGER checkin_district_days_ins AFTER INSERT ON checkin_days BEGIN "
        f"{checkins('new', 'new.count')} END",
        f"CREATE TRIGGER checkin_district_days_upd AFTER UPDATE ON checkin_days BEGIN "
        f"{checkins('old', '-old.count')} {checkins('new', 'new.count')} END",
        f"CREATE TRIGGER checkin_district_days_del AFTER DELETE ON checkin_days BEGIN "
        f"{checkins('old', '-old.count')} END",
        f"CREATE TRIGGER stations_district_days_move AFTER UPDATE OF district ON stations "
        f"WHEN coalesce(old.district, '') != coalesce(new.district, '') BEGIN "
        f"{station_sums('old.district', '-', 'old.id')} {station_sums('new.district', '', 'new.id')} END",
        f"CREATE TRIGGER stations_district_days_del BEFORE DELETE ON stations BEGIN "
        f"{station_sums('old.district', '-', 'old.id')} END",
    ]
    for sql in statements:
        db.execute(sql)
    sums = ", ".join(["count(*)", f"sum({visits.format('e')})", f"sum({services.format('e')})"]
                     + [f"sum(e.{c})" for c in counts])
    db.execute(f"INSERT INTO ledger_district_days (date, district, {columns}) "
               f"SELECT e.date, coalesce(s.district, ''), {sums} FROM ledger_entries e "
               f"JOIN stations s ON s.id = e.station_id GROUP BY 1, 2")
    db.execute("INSERT INTO ledger_district_days (date, district, checkins) "
               "SELECT c.date, coalesce(s.district, ''), sum(c.count) FROM checkin_days c "
               "JOIN stations s ON s.id = c.station_id WHERE true GROUP BY 1, 2 "
               "ON CONFLICT (date, district) DO UPDATE SET checkins = checkins + excluded.checkins")
    db.execute("ALTER TABLE import_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'stations'")


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
