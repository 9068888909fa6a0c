"""Union records: names and aliases, the tree, and the changes an organiser makes.

Tables (migration m014): ``unions`` (id, name, kind, parent_id, status),
``union_names`` (every name and alias of a union under its normalised key; the key is
the primary key, so no two unions can answer to one spelling) and ``union_log`` (who
placed, renamed, aliased or merged what, when).  Stations, users, nominations, meetings
and campaigns point at a union by id and keep its name beside it for display; the
functions here keep the two in step.
"""

from __future__ import annotations

import importlib
import json
import sqlite3

from ..storage.connection import now_iso, write_transaction
from ..text import forbidden_character, refusal
from .names import KINDS, UnionError, close_names, did_you_mean, name_key

__all__ = [
    "UnionIndex", "get_union", "find_union", "require_union", "resolve_or_create",
    "add_union", "add_alias", "move_union", "merge_unions", "list_unions", "union_log",
    "subtree_ids", "ancestor_ids", "children", "fill_host_union", "on_one_line",
    "TOP_KINDS", "MAX_NAME",
]

TOP_KINDS = ("national", "provincial", "municipal")
MAX_NAME = 100
# Tables that name a union: (table, id column, name column).
UNION_REFERENCES = (("stations", "host_union_id", "host_union"), ("users", "union_id", "union_name"),
                    ("nominations", "union_id", "union_name"), ("meetings", "union_id", "union_name"),
                    ("campaigns", "union_id", None))


# Parts of the product above this store that must act, in the same write transaction,
# when the tree changes (a merge, a move): each ``function(db, username=..., what=...)``.
# Imported at the first change, never at the top (they import storage and this store):
# an open campaign's reviewers may now share a line with a nominee (campaign/conflicts.py).
TREE_WATCHERS = (("stations.campaign.conflicts", "unions_changed"),)


def _tell_tree_watchers(db, username, what) -> None:
    for module, function in TREE_WATCHERS:
        getattr(importlib.import_module(module), function)(db, username=username, what=what)


def _row(db, union_id) -> dict | None:
    rows = list(db.query("SELECT id, name, kind, parent_id, status, created_at, updated_at "
                         "FROM unions WHERE id = ?", [union_id]))
    return rows[0] if rows else None


def get_union(db, union_id) -> dict | None:
    """One union with its aliases, or None."""
    union = _row(db, union_id)
    if union is not None:
        union["aliases"] = [r[0] for r in db.execute(
            "SELECT name FROM union_names WHERE union_id = ? AND is_alias = 1 ORDER BY name", [union_id])]
    return union


class UnionIndex:
    """Every name and alias in memory: for resolving many names at once (an import)."""

    def __init__(self, db):
        self.by_key = {}
        self.names = {}
        for key, union_id, name, is_alias in db.execute(
                "SELECT n.key, n.union_id, u.name, n.is_alias FROM union_names n "
                "JOIN unions u ON u.id = n.union_id"):
            self.by_key[key] = (union_id, name)
            self.names[key] = name

    def resolve(self, name) -> tuple[int, str] | None:
        """(id, canonical name) of the union this spelling names, or None."""
        return self.by_key.get(name_key(name))

    def close(self, name, limit: int = 3) -> list[str]:
        key = name_key(name)
        return [n for n in dict.fromkeys(close_names(key, self.names, limit=limit + 3))
                if self.by_key.get(name_key(n), (None,))[0] != self.by_key.get(key, (None,))[0]][:limit]

    def add(self, key, union_id, name):
        self.by_key[key] = (union_id, name)
        self.names[key] = name


def find_union(db, name) -> dict | None:
    """The union a name or alias names (after normalising), or None."""
    key = name_key(name)
    if not key:
        return None
    row = db.execute("SELECT union_id FROM union_names WHERE key = ?", [key]).fetchone()
    return get_union(db, row[0]) if row else None


def possible_matches(db, name, limit: int = 3) -> list[str]:
    return UnionIndex(db).close(name, limit)


def require_union(db, name, *, field: str = "union") -> dict:
    """The union ``name`` names, or UnionError naming the possible matches."""
    union = find_union(db, name)
    if union is None:
        raise UnionError(f"工会“{str(name or '').strip()}”不存在{did_you_mean(possible_matches(db, name))}；"
                         "请先在工会管理中添加（yizhan union add）", field, 400)
    return union


def _check_name(name, field="name") -> str:
    name = " ".join(str(name or "").split())
    if not name_key(name):
        raise UnionError("工会名称不能为空", field)
    if len(name) > MAX_NAME:
        raise UnionError(f"工会名称太长（{len(name)} 个字符，最多 {MAX_NAME} 个）", field)
    found = forbidden_character(name, multiline=False)
    if found:
        raise UnionError(f"工会名称{refusal(found)}", field)
    return name


def _log(db, action, union_id, username, **detail):
    db["union_log"].insert({"at": now_iso(), "username": username, "action": action,
                            "union_id": union_id, "detail": json.dumps(detail, ensure_ascii=False)})


def _claim_name(db, union_id, name, is_alias):
    key = name_key(name)
    holder = db.execute("SELECT n.union_id, u.name FROM union_names n JOIN unions u ON u.id = n.union_id "
                        "WHERE n.key = ?", [key]).fetchone()
    if holder is not None:
        if holder[0] == union_id:
            return False
        raise UnionError(f"名称“{name}”已是工会“{holder[1]}”的名称或简称", "aliases" if is_alias else "name", 409)
    try:
        db.execute("INSERT INTO union_names (key, union_id, name, is_alias) VALUES (?, ?, ?, ?)",
                   [key, union_id, name, int(is_alias)])
    except sqlite3.IntegrityError:  # another request took the name meanwhile
        raise UnionError(f"名称“{name}”已被另一个工会使用", "aliases" if is_alias else "name", 409) from None
    return True


def add_union(db, name, *, parent_id=None, kind="grassroots", aliases=(), status="active",
              username=None) -> int:
    """Add a union (409 if any of its names is taken); returns its id."""
    name = _check_name(name)
    if kind not in KINDS:
        raise UnionError(f"工会类别“{kind}”不存在，应为 " + "、".join(f"{k}（{v}）" for k, v in KINDS.items()), "kind")
    aliases = [_check_name(a, "aliases") for a in aliases or ()]
    with write_transaction(db):
        if parent_id is not None and _row(db, parent_id) is None:
            raise UnionError(f"上级工会（编号 {parent_id}）不存在", "parent_id", 400)
        stamp = now_iso()
        union_id = db["unions"].insert({"name": name, "kind": kind, "parent_id": parent_id,
                                        "status": status, "created_at": stamp,
                                        "updated_at": stamp}).last_pk
        _claim_name(db, union_id, name, False)
        for alias in aliases:
            _claim_name(db, union_id, alias, True)
        _log(db, "add", union_id, username, name=name, parent_id=parent_id, kind=kind,
             aliases=aliases, status=status)
    return union_id


def resolve_or_create(db, name, *, parent_id=None, username=None, index: UnionIndex | None = None
                      ) -> tuple[int, str, bool] | None:
    """(id, canonical name, created) for a union name; an unknown one is added as
    ``unplaced`` (under ``parent_id`` provisionally, if given).  None for no name."""
    if not name_key(name):
        return None
    found = index.resolve(name) if index is not None else None
    if found is None:
        union = find_union(db, name)
        found = (union["id"], union["name"]) if union else None
    if found is not None:
        return found[0], found[1], False
    clean = _check_name(name, "host_union")
    union_id = add_union(db, clean, parent_id=parent_id, kind="grassroots", status="unplaced",
                         username=username)
    if index is not None:
        index.add(name_key(clean), union_id, clean)
    return union_id, clean, True


def fill_host_union(db, record: dict, *, username=None) -> None:
    """Give a station record being written both ``host_union_id`` and the union's name.

    Called by storage for every write that carries ``host_union`` or ``host_union_id``;
    an unknown name becomes an ``unplaced`` union."""
    if record.get("host_union_id") is not None:
        union = _row(db, int(record["host_union_id"]))
        if union is None:
            raise UnionError(f"工会编号 {record['host_union_id']} 不存在", "host_union_id", 400)
        record["host_union"] = union["name"]
        return
    found = resolve_or_create(db, record.get("host_union"), username=username)
    record["host_union_id"], record["host_union"] = (found[0], found[1]) if found else (None, None)


def add_alias(db, union_id, alias, *, username=None) -> None:
    alias = _check_name(alias, "aliases")
    with write_transaction(db):
        if _row(db, union_id) is None:
            raise UnionError(f"工会（编号 {union_id}）不存在", "union", 404)
        if _claim_name(db, union_id, alias, True):
            _log(db, "alias", union_id, username, alias=alias)


def subtree_ids(db, union_id) -> list[int]:
    """The union and every union below it."""
    return [r[0] for r in db.execute(
        "WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT u.id FROM unions u JOIN sub ON u.parent_id = sub.id) "
        "SELECT id FROM sub", [union_id])]


def ancestor_ids(db, union_id) -> list[int]:
    """The union, its parent, … up to the root (the union first)."""
    out, seen = [], set()
    current = union_id
    while current is not None and current not in seen:
        seen.add(current)
        out.append(current)
        row = db.execute("SELECT parent_id FROM unions WHERE id = ?", [current]).fetchone()
        current = row[0] if row else None
    return out


def children(db, union_id) -> list[dict]:
    return list(db.query("SELECT id, name, kind, status FROM unions WHERE parent_id IS ? ORDER BY name",
                         [union_id]))


def move_union(db, union_id, parent_id, *, kind=None, username=None) -> None:
    """Put a union under another (placing an unplaced one); never under itself or below it."""
    with write_transaction(db):
        union = _row(db, union_id)
        if union is None:
            raise UnionError(f"工会（编号 {union_id}）不存在", "union", 404)
        if parent_id is not None:
            parent = _row(db, parent_id)
            if parent is None:
                raise UnionError(f"上级工会（编号 {parent_id}）不存在", "parent_id", 400)
            if parent_id in subtree_ids(db, union_id):
                raise UnionError(f"不能把“{union['name']}”放在它自己或它的下级工会“{parent['name']}”之下",
                                 "parent_id", 400)
        if kind is not None and kind not in KINDS:
            raise UnionError(f"工会类别“{kind}”不存在", "kind")
        db.execute("UPDATE unions SET parent_id = ?, status = 'active', kind = coalesce(?, kind), "
                   "updated_at = ? WHERE id = ?", [parent_id, kind, now_iso(), union_id])
        _log(db, "move", union_id, username, before=union["parent_id"], after=parent_id,
             kind=kind or union["kind"])
        if parent_id != union["parent_id"]:
            _tell_tree_watchers(db, username, f"工会“{union['name']}”调整上级后")


def merge_unions(db, from_id, into_id, *, username=None) -> dict:
    """Make two records one: everything that named ``from_id`` names ``into_id``; its
    names become aliases of ``into_id``; its child unions move under ``into_id``.
    Returns the counts moved (logged)."""
    with write_transaction(db):
        source, target = _row(db, from_id), _row(db, into_id)
        if source is None or target is None:
            raise UnionError("要合并的工会不存在", "union", 404)
        if from_id == into_id:
            raise UnionError("不能把工会并入它自己", "into", 400)
        if into_id in subtree_ids(db, from_id) and target["parent_id"] != from_id:
            raise UnionError(f"不能把“{source['name']}”并入它的下级工会“{target['name']}”；"
                             "请先移动下级工会", "into", 400)
        counts = {}
        for table, id_column, name_column in UNION_REFERENCES:
            sets = f"{id_column} = ?" + (f", {name_column} = ?" if name_column else "")
            params = [into_id] + ([target["name"]] if name_column else []) + [from_id]
            counts[table] = db.execute(f"UPDATE {table} SET {sets} WHERE {id_column} = ?", params).rowcount
        if target["parent_id"] == from_id:
            db.execute("UPDATE unions SET parent_id = ? WHERE id = ?", [source["parent_id"], into_id])
        counts["unions"] = db.execute("UPDATE unions SET parent_id = ? WHERE parent_id = ?",
                                      [into_id, from_id]).rowcount
        db.execute("UPDATE union_names SET union_id = ?, is_alias = 1 WHERE union_id = ?", [into_id, from_id])
        counts.update(_merge_quotas(db, from_id, into_id))
        db.execute("DELETE FROM unions WHERE id = ?", [from_id])
        db.execute("UPDATE unions SET updated_at = ? WHERE id = ?", [now_iso(), into_id])
        _log(db, "merge", into_id, username, merged=from_id, merged_name=source["name"], counts=counts)
        _tell_tree_watchers(db, username, f"工会“{source['name']}”并入“{target['name']}”后")
    return counts


def _merge_quotas(db, from_id, into_id) -> dict:
    """A campaign's 推荐名额 of the merged union adds to the one it joins (m016)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'campaign_quotas'").fetchone():
        return {}
    db.execute("UPDATE campaign_quotas SET quota = quota + coalesce((SELECT q.quota FROM campaign_quotas q "
               "WHERE q.campaign_id = campaign_quotas.campaign_id AND q.union_id = ?), 0) WHERE union_id = ?",
               [from_id, into_id])
    moved = db.execute("UPDATE campaign_quotas SET union_id = ? WHERE union_id = ? AND campaign_id NOT IN "
                       "(SELECT campaign_id FROM campaign_quotas WHERE union_id = ?)",
                       [into_id, from_id, into_id]).rowcount
    db.execute("DELETE FROM campaign_quotas WHERE union_id = ?", [from_id])
    return {"campaign_quotas": moved}


def list_unions(db) -> list[dict]:
    """Every union: {id, name, aliases, kind, parent_id, status}, by name."""
    aliases = {}
    for union_id, name in db.execute("SELECT union_id, name FROM union_names WHERE is_alias = 1 ORDER BY name"):
        aliases.setdefault(union_id, []).append(name)
    return [{"id": r[0], "name": r[1], "aliases": aliases.get(r[0], []), "kind": r[2],
             "parent_id": r[3], "status": r[4]}
            for r in db.execute("SELECT id, name, kind, parent_id, status FROM unions ORDER BY name, id")]


def union_log(db, limit: int = 200) -> list[dict]:
    rows = list(db.query("SELECT * FROM union_log ORDER BY id DESC LIMIT ?", [int(limit)]))
    for row in rows:
        row["detail"] = json.loads(row["detail"] or "{}")
    return rows


def on_one_line(db, reviewer_union, station_union, *, organiser=None) -> bool:
    """Whether a reviewer of ``reviewer_union`` may not review a station of
    ``station_union`` in a campaign organised by ``organiser`` (conflict of interest).

    The two conflict when they are the same union, or one is above the other, counting
    only unions below the organiser: reviewers of the organising union itself (or of a
    union above it), and reviewers of no union (outside experts), review any station.
    Without an organiser the top of the tree (national, provincial and municipal
    unions) is left out the same way."""
    if reviewer_union is None or station_union is None:
        return False
    if organiser is not None:
        cut = set(ancestor_ids(db, organiser))
    else:
        cut = {r[0] for r in db.execute(
            f"SELECT id FROM unions WHERE kind IN ({', '.join('?' for _ in TOP_KINDS)})", TOP_KINDS)}
    above_station = [u for u in ancestor_ids(db, station_union) if u not in cut]
    above_reviewer = [u for u in ancestor_ids(db, reviewer_union) if u not in cut]
    return reviewer_union in above_station or station_union in above_reviewer
