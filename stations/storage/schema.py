"""What a database's schema is, compared with what the migrations make at a version.

A restored file must hold exactly the schema this program's migrations made at the
file's version: an extra trigger runs on every later write (one that makes a user an
admin at login), a missing table turns pages into server errors.  Objects are
compared by kind and name, then by definition: the SQL stored in ``sqlite_master``,
normalised (comments, white space, identifier quotes and letter case do not count;
string literals do), and for tables and indexes what SQLite reads from that SQL
(``table_xinfo``, ``foreign_key_list``, ``index_list``, ``index_xinfo``).
"""

from __future__ import annotations

import re

__all__ = ["describe_schema", "normalise_sql", "reference_schema", "schema_differences"]

KINDS = {"table": "表", "index": "索引", "trigger": "触发器", "view": "视图"}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<word>[^\W\d]\w*|\d[\w.]*)
  | (?P<other>.)
""", re.X | re.S)


def normalise_sql(sql: str | None) -> tuple[str, ...] | None:
    """The tokens of ``sql``: no comments or white space, identifiers unquoted, all but
    string literals in lower case.  Two statements SQLite reads alike compare equal.

    Examples
    --------
    >>> normalise_sql('CREATE TABLE "users" (id  INTEGER)') == normalise_sql('create table users(\\n id integer)')
    True
    >>> normalise_sql("CHECK (role IN ('admin'))") == normalise_sql("CHECK (role IN ('Admin'))")
    False
    """
    if sql is None:
        return None
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind in ("space", "comment"):
            continue
        if kind == "quoted":
            close = text[-1]
            text = text[1:-1].replace(close * 2, close) if close != "]" else text[1:-1]
            tokens.append(text.lower())
        elif kind == "string":
            tokens.append(text)
        else:
            tokens.append(text.lower())
    return tuple(tokens)


def _rows(conn, pragma: str, name: str) -> list[tuple]:
    # Table-valued pragma functions take the name as a bound parameter: no quoting.
    return [tuple(row) for row in conn.execute(f"SELECT * FROM pragma_{pragma}(?)", [name])]


def describe_schema(conn) -> dict[tuple[str, str], dict]:
    """Every object of the main schema: ``(kind, name) -> definition``.

    ``conn`` is a ``sqlite3.Connection``.  ANALYZE's statistics tables
    (``sqlite_stat1`` …) are left out: they steer the query planner only, and a
    database an operator analysed is still the same schema.
    """
    found = {}
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    for kind, name, table, sql in rows:
        if kind == "table" and name.lower().startswith("sqlite_stat"):
            continue
        entry = {"table": (table or "").lower(), "sql": normalise_sql(sql)}
        found[(kind, name.lower())] = entry
    for (kind, name), entry in found.items():
        try:
            if kind == "table":
                entry["columns"] = _rows(conn, "table_xinfo", name)
                entry["foreign_keys"] = _rows(conn, "foreign_key_list", name)
                entry["indexes"] = sorted((row[1].lower(),) + row[2:] for row in _rows(conn, "index_list", name))
            elif kind == "index":
                entry["columns"] = _rows(conn, "index_xinfo", name)
        except Exception as exc:  # e.g. a virtual table of a module this SQLite lacks
            entry["unreadable"] = str(exc)
    return found


def reference_schema(version: int) -> dict[tuple[str, str], dict]:
    """The schema the migrations make at ``version``, built in an empty in-memory database."""
    from .connection import connect
    from .migrations import migrate

    db = connect(":memory:")
    try:
        migrate(db, target=version)
        return describe_schema(db.conn)
    finally:
        db.conn.close()


def _how_tables_differ(want: dict, have: dict) -> str:
    want_columns = {c[1].lower(): c for c in want.get("columns", [])}
    have_columns = {c[1].lower(): c for c in have.get("columns", [])}
    parts = [f"缺少字段 {n}" for n in want_columns if n not in have_columns]
    parts += [f"多出字段 {n}" for n in have_columns if n not in want_columns]
    parts += [f"字段 {n} 的类型、非空、默认值或主键不同" for n, c in want_columns.items()
              if n in have_columns and tuple(str(v).lower() for v in c[2:]) != tuple(
                  str(v).lower() for v in have_columns[n][2:])]
    if not parts and list(want_columns) != list(have_columns):
        parts.append("字段顺序不同")
    if want.get("foreign_keys") != have.get("foreign_keys"):
        parts.append("外键不同")
    if want.get("indexes") != have.get("indexes"):
        parts.append("唯一约束或索引不同")
    return "、".join(parts) or "约束不同"


def schema_differences(want: dict, have: dict) -> list[str]:
    """What ``have`` (``describe_schema``) lacks, adds or defines otherwise than ``want``,
    one Chinese phrase each (``多出触发器 x``, ``缺少表 sessions``, ``表 users 的定义不同…``)."""
    out = []
    for kind, name in sorted(have.keys() - want.keys(), key=_order):
        out.append(f"多出{KINDS.get(kind, kind)} {name}")
    for kind, name in sorted(want.keys() - have.keys(), key=_order):
        out.append(f"缺少{KINDS.get(kind, kind)} {name}")
    for key in sorted(want.keys() & have.keys(), key=_order):
        a, b = want[key], have[key]
        if a == b:
            continue
        kind, name = key
        label = f"{KINDS.get(kind, kind)} {name}"
        if kind == "table" and "unreadable" not in b:
            out.append(f"{label} 的定义不同（{_how_tables_differ(a, b)}）")
        elif a["table"] != b["table"]:
            out.append(f"{label} 属于另一张表（{b['table']}，应为 {a['table']}）")
        else:
            out.append(f"{label} 的定义不同")
    return out


def _order(key):
    kind, name = key
    return (list(KINDS).index(kind) if kind in KINDS else len(KINDS), kind, name)
