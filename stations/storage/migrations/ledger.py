"""Migrations of the service ledger: entries with history, monthly summaries, check-ins,
双沟通 meetings (m009); the per-district daily summary and job kinds (m011); riders'
client-days and confirmed large meetings (m012); closed (all-blank) days (m017)."""

from __future__ import annotations


_LEDGER_VISITORS = ("rider", "courier", "sanitation", "driver", "trucker", "other")
_LEDGER_SERVICES = ("water", "meal_heating", "charging", "toilet", "rest", "first_aid", "legal_aid",
                    "other")


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


def m012_checkin_client_days_and_large_meetings(db):
    # Riders' evidence is counted in client-days (one phone at one station on one day counts
    # once, however often it checks in): checkin_clients holds the keyed hashes
    # (limits.client_key, never an address) of today's clients per station, only to tell a
    # new client from a repeat (a station's earlier days are dropped at its next check-in);
    # checkin_repeats counts the repeats per station and day, so client-days are
    # checkin_days.count less the repeats (days before this migration have none: each
    # check-in its own client-day).  A meeting whose counts pass what one meeting usually
    # holds is stored only when its recorder confirmed them (large_confirmed) and stays on
    # the organisers' flags page until one of them checks it (large_checked_by, _at).
    statements = [
        """CREATE TABLE checkin_clients (
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            date TEXT NOT NULL,
            client TEXT NOT NULL,
            PRIMARY KEY (station_id, date, client)
        ) WITHOUT ROWID""",
        """CREATE TABLE checkin_repeats (
            station_id INTEGER NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
            date TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (station_id, date)
        ) WITHOUT ROWID""",
        "ALTER TABLE meetings ADD COLUMN large_confirmed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE meetings ADD COLUMN large_checked_by TEXT",
        "ALTER TABLE meetings ADD COLUMN large_checked_at TEXT",
        "CREATE INDEX meetings_large ON meetings(large_confirmed, large_checked_at)",
    ]
    for sql in statements:
        db.execute(sql)


def m017_ledger_closed_days(db):
    # An entry with every count 0 is a closed day (闭站: a blank row of a month's file, a
    # day saved empty): counted apart from the kept days, which it padded.  A partial
    # index of those days alone lets a report count them for any period and scope
    # without reading the entries (the summaries keep counting every entry; reports
    # subtract).  The condition is ``codes.closed_day_sql``, written the same way, so
    # that SQLite recognises it.
    total = " + ".join([f"v_{k}" for k in _LEDGER_VISITORS] + [f"s_{k}" for k in _LEDGER_SERVICES])
    db.execute(f"CREATE INDEX ledger_closed_days ON ledger_entries(date, station_id) WHERE {total} = 0")
