"""What part of the union tree a signed-in user sees and changes.

- ``admin`` without a union, or of a union at the top of the tree (no parent): everything;
- ``admin`` of any other union: that union's subtree; an admin of a national, provincial
  or municipal union also sees the unions not yet placed in the tree (no parent);
- ``union``: exactly its own union;
- ``reviewer`` and ``planner``: everything their role may see (their pages decide).

A scope turns into one SQL condition on a union-id column (:func:`scope_sql`), so every
list, report and export filters in the database, not in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import name_key
from .store import TOP_KINDS, _row, ancestor_ids, find_union, subtree_ids

__all__ = ["Scope", "EVERYTHING", "scope_of", "scope_sql", "in_scope", "user_union_id",
           "scope_label", "write_union_refusal", "provisional_parent"]


@dataclass(frozen=True)
class Scope:
    union_id: int | None = None   # None: everything
    exact: bool = False           # only this union, not those below it
    orphans: bool = False         # also unions with no parent, and stations of no union
    name: str | None = None       # the union's name, for pages
    ids: tuple | None = None      # the subtree's ids, when read once (scope_of): no tree walk per query

    @property
    def everything(self) -> bool:
        return self.union_id is None

    def sql(self, column: str) -> tuple[str, list]:
        """(' AND <condition>', params) on ``column``: :func:`scope_sql`."""
        return scope_sql(self, column)


EVERYTHING = Scope()
_NOTHING = Scope(union_id=-1, exact=True, name="—")


def user_union_id(user) -> int | None:
    return (user or {}).get("union_id")


def scope_of(db, user) -> Scope:
    """The scope of ``user`` (a users row)."""
    if not user:
        return _NOTHING
    role, union_id = user.get("role"), user.get("union_id")
    if role == "union":
        if union_id is None:
            return _NOTHING
        union = _row(db, union_id)
        return Scope(union_id, exact=True, name=union["name"] if union else None)
    if role != "admin" or union_id is None:
        return EVERYTHING
    union = _row(db, union_id)
    if union is None or union["parent_id"] is None:
        return EVERYTHING
    ids = subtree_ids(db, union_id)  # once per request: every query of it then lists them
    return Scope(union_id, orphans=union["kind"] in TOP_KINDS, name=union["name"],
                 ids=tuple(ids) if len(ids) <= _MAX_LISTED else None)


_MAX_LISTED = 2000  # a bigger subtree is walked in SQL (SQLite takes 32,766 parameters)


_SUBTREE = ("(WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT u.id FROM unions u "
            "JOIN sub ON u.parent_id = sub.id) SELECT id FROM sub)")


def scope_sql(scope: Scope, column: str) -> tuple[str, list]:
    """(' AND <condition>', params) limiting ``column`` (a union id) to the scope;
    ('', []) for everything."""
    if scope.everything:
        return "", []
    if scope.exact:
        return f" AND {column} = ?", [scope.union_id]
    if scope.ids is not None:
        subtree, params = f"({', '.join('?' for _ in scope.ids)})", list(scope.ids)
    else:
        subtree, params = _SUBTREE, [scope.union_id]
    if scope.orphans:
        return (f" AND ({column} IN {subtree} OR {column} IS NULL OR {column} IN "
                "(SELECT id FROM unions WHERE parent_id IS NULL))", params)
    return f" AND {column} IN {subtree}", params


def in_scope(db, scope: Scope, union_id) -> bool:
    """Whether a record of ``union_id`` (None: of no union) lies in the scope."""
    if scope.everything:
        return True
    if scope.exact:
        return union_id is not None and union_id == scope.union_id
    if union_id is None:
        return scope.orphans
    if scope.ids is not None and union_id in scope.ids:
        return True
    line = ancestor_ids(db, union_id)
    if scope.union_id in line:
        return True
    return scope.orphans and len(line) == 1  # a union with no parent


def scope_label(scope: Scope) -> str:
    """The scope in words, for refusals: "朝阳区总工会及其下级工会"."""
    if scope.everything:
        return "全部工会"
    name = scope.name or f"工会（编号 {scope.union_id}）"
    return name if scope.exact else f"{name}及其下级工会"


def provisional_parent(scope: Scope) -> int | None:
    """Where a scoped admin's new, unknown union goes until someone places it: under
    the admin's own union, so the admin still sees what it has just written."""
    return None if scope.everything or scope.exact else scope.union_id


def write_union_refusal(db, scope: Scope, name) -> str | None:
    """Why a record naming union ``name`` (a station's host union, a user's union) may
    not be written by someone of ``scope``; None when it may.  An unknown name is
    allowed (it becomes an unplaced union under :func:`provisional_parent`); no name
    only when records of no union lie in the scope."""
    if scope.everything:
        return None
    if not name_key(name):
        if in_scope(db, scope, None):
            return None
        return f"请填写所属工会：您只能登记{scope_label(scope)}的站点"
    union = find_union(db, name)
    if union is None:
        return None if not scope.exact else f"工会“{str(name).strip()}”不在您的管辖范围（{scope_label(scope)}）内"
    if in_scope(db, scope, union["id"]):
        return None
    return (f"工会“{union['name']}”不在您的管辖范围（{scope_label(scope)}）内；"
            "请填写本工会或下级工会的名称")
