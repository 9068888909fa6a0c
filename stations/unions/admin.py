"""The organiser's 工会管理: the part of the tree an admin keeps, and its changes.

An admin sees and changes the unions of its scope (``scope.scope_of``): the whole tree
for the city's organiser (and an admin of no union), its own subtree for a district's.
Every change names its unions by name or alias (resolved as everywhere, see ``names``),
checks that each lies in the scope (403 otherwise: a 朝阳 organiser neither sees nor
moves a 海淀 union, nor puts one of its own under 海淀), then calls ``store``.  An
admin's own union is the root of its scope: it may add aliases to it, not move or merge
it away.
"""

from __future__ import annotations

from .matches import Matches
from .names import KINDS, UnionError, did_you_mean
from .scope import Scope, in_scope, scope_sql
from .store import (UNION_REFERENCES, UnionIndex, add_alias, add_union, find_union, get_union, list_unions,
                    merge_unions, move_union, subtree_ids, union_log)

__all__ = ["visible_unions", "overview", "union_detail", "scoped_union", "resolve_in_scope",
           "place_union", "alias_union", "merge_preview", "merge_in_scope", "create_in_scope",
           "unplaced_count", "MATCHES_FOR", "UNPLACED_PAGE"]

MATCHES_FOR = 20    # unplaced unions whose possible matches a page looks up (each compares every union)
UNPLACED_PAGE = 50  # unplaced unions listed on the page


def _visible_ids(db, scope: Scope) -> set | None:
    """Ids of the unions in the scope (None: every union)."""
    if scope.everything:
        return None
    if scope.exact:
        return {scope.union_id}
    ids = set(subtree_ids(db, scope.union_id))
    if scope.orphans:
        ids.update(r[0] for r in db.execute("SELECT id FROM unions WHERE parent_id IS NULL"))
    return ids


def visible_unions(db, scope: Scope) -> list[dict]:
    """The unions of the scope: [{id, name, aliases, kind, parent_id, status}], by name."""
    ids = _visible_ids(db, scope)
    return [u for u in list_unions(db) if ids is None or u["id"] in ids]


def unplaced_count(db, scope: Scope) -> int:
    """Unions of the scope waiting for an organiser to place them (for the 工作台)."""
    clause, params = scope_sql(scope, "id")
    return db.execute(f"SELECT count(*) FROM unions WHERE status = 'unplaced'{clause}", params).fetchone()[0]


def _counts(db, table, column) -> dict:
    return dict(db.execute(f"SELECT {column}, count(*) FROM {table} WHERE {column} IS NOT NULL "
                           f"GROUP BY {column}").fetchall())


def overview(db, scope: Scope) -> dict:
    """What the 工会管理 page shows: the tree (each node with its own stations and
    accounts), the unplaced unions first with their possible matches, and the log."""
    unions = visible_unions(db, scope)
    stations, accounts = _counts(db, "stations", "host_union_id"), _counts(db, "users", "union_id")
    nodes = {u["id"]: dict(u, stations=stations.get(u["id"], 0), users=accounts.get(u["id"], 0),
                           children=[]) for u in unions}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["parent_id"])
        (parent["children"] if parent is not None else roots).append(node)
        node["parent_name"] = parent["name"] if parent is not None else None
    for node in nodes.values():
        node["below"] = 0
    for root in roots:
        _total(root)
    unplaced = sorted((n for n in nodes.values() if n["status"] == "unplaced"),
                      key=lambda n: (-n["stations"], n["name"]))
    matches = Matches(UnionIndex(db)) if unplaced else None
    for n, node in enumerate(unplaced[:UNPLACED_PAGE]):
        node["matches"] = matches.close(node["name"]) if n < MATCHES_FOR else []
    ids = set(nodes)
    log = [e for e in union_log(db, 500) if scope.everything or e["union_id"] in ids][:100]
    names = {e["union_id"]: nodes[e["union_id"]]["name"] for e in log if e["union_id"] in nodes}
    return {"roots": roots, "unplaced": unplaced[:UNPLACED_PAGE], "unplaced_total": len(unplaced),
            "count": len(nodes), "log": [dict(e, union_name=names.get(e["union_id"])) for e in log],
            "names": sorted(u["name"] for u in unions)}


def _total(node) -> int:
    """Stations of the node and every union below it (kept in ``below``)."""
    stack, order = [node], []
    while stack:  # iterative: a deep tree is no recursion limit
        current = stack.pop()
        order.append(current)
        stack.extend(current["children"])
    for current in reversed(order):
        current["below"] = current["stations"] + sum(c["below"] for c in current["children"])
    return node["below"]


def scoped_union(db, scope: Scope, union_id) -> dict:
    """The union ``union_id`` if it lies in the scope; UnionError 404 or 403."""
    union = get_union(db, union_id)
    if union is None:
        raise UnionError(f"工会（编号 {union_id}）不存在", "union", 404)
    if not in_scope(db, scope, union["id"]):
        raise UnionError(f"工会“{union['name']}”不在您管理的范围（{scope.name or '—'}）内", "union", 403)
    return union


def resolve_in_scope(db, scope: Scope, name, field: str) -> dict:
    """The union a name or alias names, in the scope; UnionError 400 (naming possible
    matches in the scope) or 403."""
    union = find_union(db, name)
    if union is None:
        if not str(name or "").strip():
            raise UnionError("请填写工会名称", field, 400)
        visible = {u["name"] for u in visible_unions(db, scope)}
        matches = [m for m in Matches(UnionIndex(db)).close(name, limit=6) if m in visible][:3]
        raise UnionError(f"工会“{str(name).strip()}”不存在{did_you_mean(matches)}", field, 400)
    if not in_scope(db, scope, union["id"]):
        raise UnionError(f"工会“{union['name']}”不在您管理的范围（{scope.name or '—'}）内", field, 403)
    return union


def _not_the_root(scope: Scope, union: dict, what: str) -> None:
    if not scope.everything and union["id"] == scope.union_id:
        raise UnionError(f"“{union['name']}”是您所在的工会，不能{what}；请由上级工会的管理员操作", "union", 403)


def union_detail(db, scope: Scope, union_id) -> dict:
    """One union of the scope with its parent, children, counts and possible matches."""
    union = scoped_union(db, scope, union_id)
    union["parent"] = get_union(db, union["parent_id"]) if union["parent_id"] is not None else None
    union["children"] = list(db.query("SELECT id, name, kind, status FROM unions WHERE parent_id = ? "
                                      "ORDER BY name", [union["id"]]))
    union["counts"] = merge_preview(db, union["id"])
    visible = _visible_ids(db, scope)
    union["matches"] = [m for m in Matches(UnionIndex(db)).close(union["name"], limit=6)
                        if visible is None or (find_union(db, m) or {}).get("id") in visible][:3]
    union["is_root"] = not scope.everything and union["id"] == scope.union_id
    return union


def place_union(db, scope: Scope, union_id, parent_name, kind, *, username=None) -> dict:
    """Put a union of the scope under another of the scope (placing an unplaced one)."""
    union = scoped_union(db, scope, union_id)
    _not_the_root(scope, union, "移动")
    if kind not in KINDS:
        raise UnionError("请选择工会类别（" + "、".join(KINDS.values()) + "）", "kind", 400)
    parent = resolve_in_scope(db, scope, parent_name, "parent")
    move_union(db, union["id"], parent["id"], kind=kind, username=username)
    return parent


def alias_union(db, scope: Scope, union_id, alias, *, username=None) -> dict:
    union = scoped_union(db, scope, union_id)
    if not str(alias or "").strip():
        raise UnionError("请填写简称或曾用名", "alias", 400)
    add_alias(db, union["id"], alias, username=username)
    return union


def merge_preview(db, from_id, into_id=None) -> dict:
    """What names the union ``from_id`` (and would move with a merge): stations, users,
    nominations, meetings, campaigns and child unions."""
    counts = {}
    for table, id_column, _ in UNION_REFERENCES:
        counts[table] = db.execute(f"SELECT count(*) FROM {table} WHERE {id_column} = ?", [from_id]).fetchone()[0]
    counts["unions"] = db.execute("SELECT count(*) FROM unions WHERE parent_id = ?", [from_id]).fetchone()[0]
    return counts


def merge_in_scope(db, scope: Scope, from_name, into_name, *, confirm=False, username=None) -> dict:
    """Check (and with ``confirm`` do) the merge of one union of the scope into another.

    Returns {"from", "into", "counts", "done"}: ``counts`` is what moves (before) or moved."""
    source = resolve_in_scope(db, scope, from_name, "from")
    target = resolve_in_scope(db, scope, into_name, "into")
    _not_the_root(scope, source, "并入其他工会")
    if source["id"] == target["id"]:
        raise UnionError(f"“{str(from_name).strip()}”和“{str(into_name).strip()}”已是同一个工会（{target['name']}）",
                         "into", 400)
    if target["id"] in subtree_ids(db, source["id"]) and target["parent_id"] != source["id"]:
        raise UnionError(f"不能把“{source['name']}”并入它的下级工会“{target['name']}”；请先移动下级工会",
                         "into", 400)
    if not confirm:
        return {"from": source, "into": target, "counts": merge_preview(db, source["id"]), "done": False}
    counts = merge_unions(db, source["id"], target["id"], username=username)
    return {"from": source, "into": get_union(db, target["id"]), "counts": counts, "done": True}


def create_in_scope(db, scope: Scope, name, *, parent_id=None, kind="grassroots", aliases=(),
                    username=None) -> dict:
    """Add a union under a parent of the scope (at the top only for an admin of everything)."""
    if kind not in KINDS:
        raise UnionError(f"工会类别“{kind}”不存在，应为 " + "、".join(f"{k}（{v}）" for k, v in KINDS.items()),
                         "kind", 400)
    if parent_id is None:
        if not scope.everything:
            raise UnionError(f"请指明上级工会：您只能在“{scope.name or '—'}”之下添加工会", "parent_id", 403)
    else:
        parent = get_union(db, parent_id)
        if parent is None:
            raise UnionError(f"上级工会（编号 {parent_id}）不存在", "parent_id", 400)
        if not in_scope(db, scope, parent_id):
            raise UnionError(f"上级工会“{parent['name']}”不在您管理的范围（{scope.name or '—'}）内",
                             "parent_id", 403)
    union_id = add_union(db, name, parent_id=parent_id, kind=kind, aliases=aliases, username=username)
    return get_union(db, union_id)
