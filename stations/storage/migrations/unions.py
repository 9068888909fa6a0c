"""Migration of the union tree (m014): unions as records, not text.

Every distinct union name already in the database (stations' host unions, users',
nominations' and meetings' unions) becomes one ``unplaced`` union record — spellings
that normalise alike (full-/half-width brackets, spaces) become one record, named by
the most used spelling — and every row points at its record by id beside the name.
Nothing is lost: the names stay, now all in the union's one spelling.
"""

from __future__ import annotations

import re
from collections import Counter

from ...unions.names import name_key
from ..connection import now_iso

_DISTRICT = re.compile(r"(区|县)总工会$")
_CITY = re.compile(r"市总工会$")


def _guess_kind(name: str) -> str:
    if name in ("中华全国总工会", "全国总工会"):
        return "national"
    if _DISTRICT.search(name):
        return "district"
    if _CITY.search(name):
        return "municipal"
    return "grassroots"


_SOURCES = (("stations", "host_union", "host_union_id"), ("users", "union_name", "union_id"),
            ("nominations", "union_name", "union_id"), ("meetings", "union_name", "union_id"))


def m014_unions(db):
    db.executescript("""
    CREATE TABLE unions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'grassroots' CHECK (kind IN
            ('national', 'provincial', 'municipal', 'district', 'industry', 'street', 'grassroots')),
        parent_id INTEGER REFERENCES unions(id),
        status TEXT NOT NULL DEFAULT 'unplaced' CHECK (status IN ('active', 'unplaced')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX unions_parent ON unions(parent_id);
    CREATE TABLE union_names (
        key TEXT PRIMARY KEY,
        union_id INTEGER NOT NULL REFERENCES unions(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        is_alias INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX union_names_union ON union_names(union_id);
    CREATE TABLE union_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        username TEXT,
        action TEXT NOT NULL,
        union_id INTEGER,
        detail TEXT
    );
    ALTER TABLE stations ADD COLUMN host_union_id INTEGER REFERENCES unions(id);
    CREATE INDEX stations_host_union ON stations(host_union_id);
    ALTER TABLE users ADD COLUMN union_id INTEGER REFERENCES unions(id);
    ALTER TABLE nominations ADD COLUMN union_id INTEGER REFERENCES unions(id);
    CREATE INDEX nominations_union ON nominations(union_id);
    ALTER TABLE meetings ADD COLUMN union_id INTEGER REFERENCES unions(id);
    ALTER TABLE campaigns ADD COLUMN union_id INTEGER REFERENCES unions(id);
    ALTER TABLE import_jobs ADD COLUMN union_id INTEGER;
    """)
    spellings = Counter()
    for table, column, _ in _SOURCES:
        for text, count in db.execute(f"SELECT {column}, count(*) FROM {table} "
                                      f"WHERE {column} IS NOT NULL GROUP BY {column}"):
            clean = " ".join(str(text).split())
            if name_key(clean):
                spellings[clean] += count
    by_key = {}
    # the most used spelling names it; of equals, the one written as Chinese documents
    # write names: no spaces, full-width brackets
    for spelling, count in sorted(spellings.items(), key=lambda s: (-s[1], " " in s[0], "(" in s[0], s[0])):
        by_key.setdefault(name_key(spelling), spelling)
    stamp = now_iso()
    ids = {}
    for key, name in sorted(by_key.items(), key=lambda kv: kv[1]):
        union_id = db.execute(
            "INSERT INTO unions (name, kind, parent_id, status, created_at, updated_at) "
            "VALUES (?, ?, NULL, 'unplaced', ?, ?)", [name, _guess_kind(name), stamp, stamp]).lastrowid
        db.execute("INSERT INTO union_names (key, union_id, name, is_alias) VALUES (?, ?, ?, 0)",
                   [key, union_id, name])
        ids[key] = (union_id, name)
    for table, column, id_column in _SOURCES:
        texts = [r[0] for r in db.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")]
        for text in texts:
            found = ids.get(name_key(" ".join(str(text).split())))
            if found is None:  # a blank name: no union
                db.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} = ?", [text])
            else:
                db.execute(f"UPDATE {table} SET {id_column} = ?, {column} = ? WHERE {column} = ?",
                           [found[0], found[1], text])
    db.execute("UPDATE import_jobs SET union_id = (SELECT union_id FROM users WHERE users.username = "
               "import_jobs.created_by)")
    if ids:
        db.execute("INSERT INTO union_log (at, username, action, union_id, detail) VALUES (?, NULL, "
                   "'migrate', NULL, ?)", [stamp, f'{{"unions": {len(ids)}}}'])
