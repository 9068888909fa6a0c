"""One rule at the door: no request brings a control character into the system.

Before any view runs, every text a request carries is read: query arguments, form
fields (their names too), the names of uploaded files, and every key and string of a
JSON body.  One holding NUL, ESC, DEL, a C1 control … (``stations.text``; tab and
line breaks are text) is refused with a 400 naming the field, in Chinese: JSON on the
API, the error page elsewhere.  Nothing is stored, whichever view it was meant for.
The core's clean-text helpers refuse the same characters again behind this door.

Not read: the contents of uploaded files (the importers check every cell themselves),
and a login's ``next`` (never stored; ``auth._safe_next`` sends a bad one home).  A
view whose core checks some form fields itself and shows the form again with each
refusal beside its field, keeping what was typed, names them with
``@checks_own_text("name", …)``: those fields are left to it, every other one is read.
"""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request

from ..text import forbidden_character, refusal
from .negotiate import answers_json

__all__ = ["checks_own_text", "init_app"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_STORED = frozenset({"next"})  # query arguments read only to redirect
_LABELS = {"name": "名称", "note": "备注", "reason": "理由", "username": "用户名", "password": "密码",
           "place": "地点", "address": "地址", "rating": "评分", "found": "勾选的选项",
           "union_name": "工会名称", "resolution": "处理结果", "district": "区"}


def checks_own_text(*fields):
    """Mark a view whose core refuses control characters in these form fields itself."""
    def mark(view):
        view.checks_own_text = frozenset(fields)
        return view
    return mark


def _shown(name: str) -> str:
    """A field's name as it can be shown: its own control characters named, not printed."""
    return "".join(f"U+{ord(c):04X}" if forbidden_character(c, multiline=False) else c
                   for c in name)[:60]


def _first_in_json(body):
    """(field path, character) of the first forbidden character in a JSON value, else None.
    Walked with a stack: a body nested a thousand deep is no RecursionError."""
    stack = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            found = forbidden_character(value)
            if found:
                return path or "body", found
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                found = forbidden_character(key) if isinstance(key, str) else None
                if found:
                    return (f"{path}.{_shown(key)}" if path else _shown(key)), found
                stack.append((f"{path}.{_shown(key)}" if path else _shown(key), item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def _first_in_pairs(pairs):
    for name, value in pairs:
        for text in (name, value):
            found = forbidden_character(text)
            if found:
                return _shown(name), found
    return None


def _first_forbidden():
    found = _first_in_pairs((k, v) for k, v in request.args.items(multi=True) if k not in _NOT_STORED)
    if found or request.method not in _BODY_METHODS:
        return found
    view = current_app.view_functions.get(request.endpoint)
    if request.is_json:
        body = request.get_json(silent=True)  # unreadable JSON is the view's to refuse
        return _first_in_json(body) if body is not None else None
    own = getattr(view, "checks_own_text", frozenset())
    found = _first_in_pairs((k, v) for k, v in request.form.items(multi=True) if k not in own)
    if found:
        return found
    for name, upload in request.files.items(multi=True):
        found = forbidden_character(name) or forbidden_character(upload.filename or "", multiline=False)
        if found:
            return _shown(name), found
    return None


def _refuse_control_characters():
    if request.endpoint is None:
        return None  # no such route: the 404 answers
    found = _first_forbidden()
    if found is None:
        return None
    field, char = found
    label = _LABELS.get(field.split(".")[-1].split("[")[0])
    if field in request.files:
        named = f"上传的文件（{field}）的文件名"
    else:
        named = f"{label}（{field}）" if label else f"字段 {field} "
    message = f"{named}{refusal(char)}。"
    current_app.logger.warning("refused %s %s: field %s holds U+%04X", request.method, request.path,
                               field, ord(char))
    if answers_json():
        return jsonify(error={"status": 400, "message": message, "parameter": field,
                              "fields": {field: [refusal(char)]}}), 400
    return render_template("error.html", code=400, message=message), 400


def init_app(app):
    app.before_request(_refuse_control_characters)
