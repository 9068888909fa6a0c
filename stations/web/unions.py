"""工会管理 (admin): the union tree of the admin's scope, placing, aliases, merging, the log."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

import re

from ..unions.admin import (alias_union, create_in_scope, merge_in_scope, overview, place_union,
                            union_detail, visible_unions)
from ..unions.names import KINDS, STATUSES, UnionError
from ..unions.scope import scope_of
from .access import allow
from .db import get_db

bp = Blueprint("unions", __name__, url_prefix="/admin/unions")
ACTIONS = {"add": "添加", "alias": "添加简称", "move": "确认归属/移动", "merge": "合并"}
MOVED = {"stations": "站点", "users": "账号", "nominations": "推荐", "meetings": "双沟通会议",
         "campaigns": "评选活动", "unions": "下级工会"}


@bp.app_template_filter("union_change")
def union_change(entry) -> str:
    """One line of the union log, in words."""
    detail, name = entry.get("detail") or {}, entry.get("union_name") or f"编号 {entry.get('union_id')}"
    action = entry.get("action")
    if action == "add":
        status = "（待确认归属）" if detail.get("status") == "unplaced" else ""
        return f"新增工会“{detail.get('name', name)}”{status}"
    if action == "alias":
        return f"为“{name}”添加简称“{detail.get('alias', '')}”"
    if action == "move":
        return f"确认“{name}”的归属（{KINDS.get(detail.get('kind'), '')}）"
    if action == "merge":
        counts = detail.get("counts") or {}
        moved = "、".join(f"{MOVED[k]} {v} 个" for k, v in counts.items() if v and k in MOVED)
        return f"把“{detail.get('merged_name', '')}”并入“{name}”" + (f"：{moved}" if moved else "")
    return f"{ACTIONS.get(action, action)}“{name}”"


def _scope():
    return scope_of(get_db(), g.user)


def _names():
    """Names of the scope's unions, for the suggestions (datalist) of every name field."""
    return [u["name"] for u in visible_unions(get_db(), _scope())]


@bp.get("")
@allow("admin")
def index():
    """The tree of the admin's scope, unplaced unions first, and the union log."""
    return render_template("unions/index.html", data=overview(get_db(), _scope()), kinds=KINDS,
                           statuses=STATUSES, actions=ACTIONS, scope=_scope())


def _render_union(union_id, form=None, error=None, status=200):
    try:
        union = union_detail(get_db(), _scope(), union_id)
    except UnionError as exc:
        abort(exc.status)
    return render_template("unions/union.html", union=union, kinds=KINDS, statuses=STATUSES,
                           moved=MOVED, names=_names(), form=form or {}, error=error), status


@bp.get("/<int:union_id>")
@allow("admin")
def union(union_id):
    """One union: where it stands, what names it, and the forms that change it."""
    return _render_union(union_id)


@bp.post("/<int:union_id>/place")
@allow("admin")
def place(union_id):
    """Put a union under a parent of the scope, with its kind (placing an unplaced one)."""
    form = {"parent": request.form.get("parent", "")[:200], "kind": request.form.get("kind", "")}
    try:
        parent = place_union(get_db(), _scope(), union_id, form["parent"], form["kind"],
                             username=g.user["username"])
    except UnionError as exc:
        return _refused(union_id, form, exc)
    flash(f"已确认归属：放在“{parent['name']}”之下（{KINDS[form['kind']]}）。")
    return redirect(url_for("unions.union", union_id=union_id), 303)


@bp.post("/<int:union_id>/alias")
@allow("admin")
def alias(union_id):
    """Give a union another name (a short or an old name) it answers to."""
    form = {"alias": request.form.get("alias", "")[:200]}
    try:
        alias_union(get_db(), _scope(), union_id, form["alias"], username=g.user["username"])
    except UnionError as exc:
        return _refused(union_id, form, exc)
    flash(f"已添加简称“{' '.join(form['alias'].split())}”。")
    return redirect(url_for("unions.union", union_id=union_id), 303)


@bp.post("/<int:union_id>/children")
@allow("admin")
def add_child(union_id):
    """Add a union under this one (placed at once), with its kind and aliases."""
    form = {"name": request.form.get("name", "")[:200], "child_kind": request.form.get("kind", "grassroots"),
            "aliases": request.form.get("aliases", "")[:1000]}
    aliases = [a for a in re.split(r"[、,，;；\n]+", form["aliases"]) if a.strip()]
    try:
        child = create_in_scope(get_db(), _scope(), form["name"], parent_id=union_id, kind=form["child_kind"],
                                aliases=aliases, username=g.user["username"])
    except UnionError as exc:
        field = {"name": "child_name", "aliases": "child_aliases", "kind": "child_kind"}.get(exc.field, exc.field)
        if exc.field == "parent_id" and exc.status == 400:
            abort(404)
        return _refused(union_id, form, UnionError(str(exc), field, exc.status))
    flash(f"已添加下级工会“{child['name']}”。")
    return redirect(url_for("unions.union", union_id=union_id), 303)


def _refused(union_id, form, exc):
    if exc.status == 404 and exc.field == "union":
        abort(404)
    return _render_union(union_id, dict(form, field=exc.field), str(exc), exc.status)


@bp.route("/merge", methods=["GET", "POST"])
@allow("admin")
def merge():
    """Merge two unions: the first answer names what moves; a second, confirmed, merges."""
    given = request.form if request.method == "POST" else request.args
    form = {"from": given.get("from", "")[:200], "into": given.get("into", "")[:200]}
    if request.method == "GET":
        return _render_merge(form)
    try:
        result = merge_in_scope(get_db(), _scope(), form["from"], form["into"],
                                confirm=request.form.get("confirm") == "1", username=g.user["username"])
    except UnionError as exc:
        return _render_merge(dict(form, field=exc.field), str(exc), exc.status)
    if not result["done"]:
        return _render_merge(form, preview=result)
    moved = "、".join(f"{MOVED[k]} {v} 个" for k, v in result["counts"].items() if v) or "没有记录需要转移"
    flash(f"已把“{result['from']['name']}”并入“{result['into']['name']}”：{moved}；"
          f"“{result['from']['name']}”成为它的简称。")
    return redirect(url_for("unions.union", union_id=result["into"]["id"]), 303)


def _render_merge(form, error=None, status=200, preview=None):
    return render_template("unions/merge.html", form=form, error=error, preview=preview, moved=MOVED,
                           names=_names()), status
