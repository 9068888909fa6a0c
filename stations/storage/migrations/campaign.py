"""Migration of the selection campaigns: the union role, API tokens, campaigns, nominations,
reviews, objections and 七有 checklists (m008); conflict holds, set-aside reviews and
objection fingerprints (m012)."""

from __future__ import annotations


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


def m013_conflict_holds_and_objection_fingerprints(db):
    # A nominee whose host union changes during 综合评议 may leave a reviewer of that
    # union on it (campaign/conflicts.py): ``assignments.held`` says why an assignment no
    # one could take over is paused (NULL: in force); ``reviews.set_aside`` why a review
    # no longer counts in the ranking (NULL: it counts).  ``objections.fingerprint`` is a
    # hash of campaign, station, sender (itself a keyed hash) and the objection's words,
    # so the same objection sent twice is stored once; it names no one and links only
    # identical objections.
    db.execute("ALTER TABLE assignments ADD COLUMN held TEXT")
    db.execute("ALTER TABLE reviews ADD COLUMN set_aside TEXT")
    db.execute("ALTER TABLE objections ADD COLUMN fingerprint TEXT")
    db.execute("CREATE UNIQUE INDEX objections_fingerprint ON objections(campaign_id, fingerprint) "
               "WHERE fingerprint IS NOT NULL")


def m016_campaign_quotas_forwarding_and_recommendations(db):
    # Campaigns run through the union tree (issue 16): a city campaign may give each
    # district union a quota of recommendations (推荐名额); the district's organiser
    # forwards at most that many of its subtree's nominations (``forwarded_at`` /
    # ``forwarded_by``; when a campaign has quotas only forwarded nominations go on to
    # review).  After confirmation the organiser marks winners as recommended to the
    # level above (``awards.recommended_at`` / ``recommended_by``).
    db.execute("""CREATE TABLE campaign_quotas (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        union_id INTEGER NOT NULL REFERENCES unions(id),
        quota INTEGER NOT NULL CHECK (quota >= 0),
        PRIMARY KEY (campaign_id, union_id)
    )""")
    db.execute("ALTER TABLE nominations ADD COLUMN forwarded_at TEXT")
    db.execute("ALTER TABLE nominations ADD COLUMN forwarded_by TEXT")
    db.execute("ALTER TABLE awards ADD COLUMN recommended_at TEXT")
    db.execute("ALTER TABLE awards ADD COLUMN recommended_by TEXT")


def m018_campaign_archive(db):
    # A campaign the organiser cancels (issue 17: one that could never proceed, or was
    # created twice) is archived, not deleted: ``archived_at`` (NULL: in force) with who
    # and why; its log, nominations and reviews stay for the file.
    db.execute("ALTER TABLE campaigns ADD COLUMN archived_at TEXT")
    db.execute("ALTER TABLE campaigns ADD COLUMN archived_by TEXT")
    db.execute("ALTER TABLE campaigns ADD COLUMN archived_reason TEXT")


def m019_nomination_holds(db):
    # During 综合评议 the organiser may hold (暂缓, pending a check) or exclude (排除) a
    # nominee with a reason, e.g. on a 面子工程 flag: it keeps its scores on the ranking
    # but takes no place, and the next moves up.  NULL: in the running.  ``hold_at`` is the
    # last change (a release keeps it), which the live ranking's cache key reads.
    db.execute("ALTER TABLE nominations ADD COLUMN hold TEXT CHECK (hold IN ('held', 'excluded'))")
    db.execute("ALTER TABLE nominations ADD COLUMN hold_reason TEXT")
    db.execute("ALTER TABLE nominations ADD COLUMN hold_by TEXT")
    db.execute("ALTER TABLE nominations ADD COLUMN hold_at TEXT")


def m020_notice_workdays_and_confirmation_date(db):
    # The 公示 period may count China's working days (工作日) instead of calendar days,
    # and its start is the organiser's choice; ``confirmed_at`` (a Beijing date) is when
    # the list was confirmed, so a confirmation before the period's end shows as such.
    db.execute("ALTER TABLE campaigns ADD COLUMN notice_workdays INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE campaigns ADD COLUMN confirmed_at TEXT")


def m021_pass_mark_and_notice_details(db):
    # A pass mark (total, 0–100) below which a station is not listed whatever the quota
    # (NULL: none); the printed 公示 notice's issuing union and where to object (a phone
    # or an address), set by the organiser.
    db.execute("ALTER TABLE campaigns ADD COLUMN pass_mark REAL")
    db.execute("ALTER TABLE campaigns ADD COLUMN issuer TEXT")
    db.execute("ALTER TABLE campaigns ADD COLUMN objection_contact TEXT")
