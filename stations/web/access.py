"""Who may use which route: every view declares it, and undeclared views are refused."""

from __future__ import annotations

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for

from .. import users
from .db import get_db

__all__ = ["PUBLIC", "allow", "init_app", "login_user", "logout_user"]

PUBLIC = "public"


def allow(*roles):
    """Declare who may use a view: ``allow(PUBLIC)`` or ``allow("admin", "planner")``."""
    def mark(view):
        view.access = frozenset(roles)
        return view
    return mark


def login_user(user):
    session.clear()
    session.permanent = True  # bounded by PERMANENT_SESSION_LIFETIME
    session["user_id"] = user["id"]


def logout_user():
    session.clear()


def _load_user():
    g.basic_auth = False
    auth = request.authorization
    if request.path.startswith("/api/") and auth is not None and auth.type == "basic":
        # API clients may send credentials with each call instead of a session cookie;
        # such calls carry no ambient authority, so they need no CSRF token.
        g.user = users.authenticate(get_db(), auth.username or "", auth.password or "")
        g.basic_auth = g.user is not None
        return
    user_id = session.get("user_id")
    g.user = users.get_user(get_db(), user_id=user_id) if user_id else None


def _check_access():
    if request.endpoint is None:
        return None  # no such route: let the 404 handler answer
    view = current_app.view_functions.get(request.endpoint)
    roles = getattr(view, "access", None)
    if request.endpoint == "static":
        roles = frozenset([PUBLIC])
    if roles is None:
        abort(403)  # deny by default: the view declared nobody
    if PUBLIC in roles:
        return None
    _load_user()
    if g.user is None:
        if request.path.startswith("/api/"):
            return jsonify(error={"status": 401, "message": "login required"}), 401
        return redirect(url_for("auth.login", next=request.full_path))
    if g.user["role"] not in roles:
        abort(403)
    return None


def init_app(app):
    app.before_request(_check_access)

    @app.before_request
    def _user_for_public_pages():
        if "user" not in g and session.get("user_id"):
            _load_user()
