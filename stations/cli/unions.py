"""``yizhan union …``: the union tree (add, alias, move, merge, list).

Every NAME is resolved as everywhere else: exactly or by an alias, after normalising
brackets and spaces; an unknown name exits 1 naming the possible matches.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from ..unions import store
from ..unions.names import KINDS, STATUSES, UnionError
from .common import clear_when_busy, open_migrated

__all__ = ["COMMANDS"]


def _resolve(db, name, field="union"):
    try:
        return store.require_union(db, name, field=field)
    except UnionError as exc:
        raise click.ClickException(str(exc)) from None


def _run(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except UnionError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("union")
def union_group():
    """Manage the union tree (工会)."""


@union_group.command("add")
@click.argument("name")
@click.option("--parent", default=None, help="The union above it (name or alias).")
@click.option("--kind", type=click.Choice(list(KINDS)), default="grassroots", show_default=True)
@click.option("--alias", "aliases", multiple=True, help="A short or old name (repeatable).")
@with_appcontext
@clear_when_busy
def union_add(name, parent, kind, aliases):
    """Add a union (placed in the tree when --parent is given, or at its top)."""
    db = open_migrated()
    parent_id = _resolve(db, parent, "parent")["id"] if parent else None
    union_id = _run(store.add_union, db, name, parent_id=parent_id, kind=kind, aliases=aliases,
                    username="cli")
    click.echo(f"已添加工会 {name}（编号 {union_id}，{KINDS[kind]}）。")


@union_group.command("alias")
@click.argument("name")
@click.argument("alias")
@with_appcontext
@clear_when_busy
def union_alias(name, alias):
    """Give a union another name it is also known by."""
    db = open_migrated()
    union = _resolve(db, name)
    _run(store.add_alias, db, union["id"], alias, username="cli")
    click.echo(f"“{alias}”现在也指工会 {union['name']}。")


@union_group.command("move")
@click.argument("name")
@click.option("--parent", required=True, help="The union to put it under (name or alias).")
@click.option("--kind", type=click.Choice(list(KINDS)), default=None)
@with_appcontext
@clear_when_busy
def union_move(name, parent, kind):
    """Put a union under another (this also places an unplaced one)."""
    db = open_migrated()
    union, above = _resolve(db, name), _resolve(db, parent, "parent")
    _run(store.move_union, db, union["id"], above["id"], kind=kind, username="cli")
    click.echo(f"工会 {union['name']} 现在在 {above['name']} 之下。")


@union_group.command("merge")
@click.argument("source", metavar="FROM")
@click.argument("into", metavar="INTO")
@with_appcontext
@clear_when_busy
def union_merge(source, into):
    """Merge FROM into INTO: its stations, users, nominations and names follow."""
    db = open_migrated()
    a, b = _resolve(db, source, "from"), _resolve(db, into, "into")
    counts = _run(store.merge_unions, db, a["id"], b["id"], username="cli")
    click.echo(f"已把工会 {a['name']} 并入 {b['name']}：站点 {counts['stations']} 个、账号 {counts['users']} 个、"
               f"推荐 {counts['nominations']} 条、下级工会 {counts['unions']} 个随之转入；"
               f"“{a['name']}”成为 {b['name']} 的别名。")


@union_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{id, name, aliases, kind, parent_id, status}].")
@with_appcontext
def union_list(as_json):
    """List every union, as a tree (or JSON)."""
    unions = store.list_unions(open_migrated())
    if as_json:
        click.echo(json.dumps(unions, ensure_ascii=False))
        return
    below = {}
    for union in unions:
        below.setdefault(union["parent_id"], []).append(union)
    known = {u["id"] for u in unions}

    def show(union, depth):
        extra = f"（又名：{'、'.join(union['aliases'])}）" if union["aliases"] else ""
        mark = f" [{STATUSES['unplaced']}]" if union["status"] == "unplaced" else ""
        click.echo(f"{'  ' * depth}{union['name']}\t{union['id']}\t{KINDS[union['kind']]}{mark}{extra}")
        for child in below.get(union["id"], []):
            show(child, depth + 1)

    for union in unions:
        if union["parent_id"] is None or union["parent_id"] not in known:
            show(union, 0)


COMMANDS = [union_group]
