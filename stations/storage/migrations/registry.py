"""Migrations of the station registry and its services: stations and users, the spatial
index, history, feedback and rate limits, sessions, import jobs, demand layers (m001-m007),
and the station note with typed hours (m010)."""

from __future__ import annotations


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


def m010_station_note_and_typed_hours(db):
    # A station's note (a 备注 column of a union's spreadsheet: often names and phone
    # numbers, so private like the manager) and the opening hours as the organiser typed
    # them (shown back in the form and to riders; ``hours`` keeps the parsed form).
    db.execute("ALTER TABLE stations ADD COLUMN note TEXT")
    db.execute("ALTER TABLE stations ADD COLUMN hours_text TEXT")


def m015_plan_scenarios(db):
    # A planner's named /plan scenarios (stations/coverage/scenarios.py): the page's
    # settings as JSON (name, value) pairs, computed afresh when opened or compared.
    db.execute("""
    CREATE TABLE plan_scenarios (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (owner, name)
    )""")
