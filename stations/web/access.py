"""Who may use which route: every view declares it, and undeclared views are refused.

What part of the union tree the user sees and changes is decided once too: ``g.scope``
(``stations.unions.scope.scope_of``), which views hand to the core as ``scope``.

Who is asking is decided on every request from the server's side: a session
cookie names a row in ``sessions`` (gone after logout, a password or a role
change), and API Basic credentials are checked under the failed-login limits.
"""

from __future__ import annotations

import math

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for

from ..accounts import tokens, users
from ..accounts.limits import RateLimited, client_key
from ..unions.scope import scope_of
from .db import get_db
from .negotiate import is_ogcapi

__all__ = ["PUBLIC", "allow", "client_id", "init_app", "log_in", "login_user", "logout_user",
           "too_many_logins"]

PUBLIC = "public"


def allow(*roles, credentials=False):
    """Declare who may use a view: ``allow(PUBLIC)`` or ``allow("admin", "planner")``.

    ``credentials=True`` on a public view: API credentials sent along (Basic, bearer) are
    checked all the same, a wrong one refused (401), so the view may show what the user's
    role may see (``/ogcapi``: the public's layer, or more for a signed-in user)."""
    def mark(view):
        view.access = frozenset(roles)
        view.reads_credentials = credentials
        return view
    return mark


def client_id() -> str:
    """This request's client, as a keyed hash of its address (never the address)."""
    return client_key(request.remote_addr or "", current_app.config["SECRET_KEY"])


def log_in(username: str, password: str):
    """The user if the password is right, else None; RateLimited past the failed-login limits."""
    config = current_app.config
    try:
        return users.log_in(get_db(), username, password, client=client_id(),
                            secret=config["SECRET_KEY"],
                            per_account=int(config["YIZHAN_LOGIN_FAILS_PER_ACCOUNT"]),
                            per_client=int(config["YIZHAN_LOGIN_FAILS_PER_CLIENT"]),
                            window_s=int(config["YIZHAN_LOGIN_WINDOW_MINUTES"]) * 60)
    except RateLimited as exc:
        current_app.logger.warning(
            "login refused on %s: too many failed logins (%s limit) for user %r from client %s; "
            "retry after %d s", request.path, exc.scope, username, client_id(), exc.retry_after)
        raise


def too_many_logins(exc: RateLimited) -> str:
    """The Chinese sentence for a refused login."""
    return f"登录失败次数过多，请 {math.ceil(exc.retry_after / 60)} 分钟后再试。"


def login_user(user):
    session.clear()  # a new session for a new login (no fixation)
    session.permanent = True  # bounded by PERMANENT_SESSION_LIFETIME
    session["sid"] = users.start_session(get_db(), user["id"],
                                         hours=current_app.config["YIZHAN_SESSION_HOURS"])


def logout_user():
    users.end_session(get_db(), session.get("sid"))
    session.clear()


def _load_user():
    g.basic_auth = False
    auth = request.authorization
    api = request.path.startswith("/api/") or is_ogcapi()
    if api and auth is not None and auth.type == "basic":
        # API clients may send credentials with each call instead of a session cookie;
        # such calls carry no ambient authority, so they need no CSRF token.
        g.user = None
        g.user = log_in(auth.username or "", auth.password or "")
        g.basic_auth = g.user is not None
        return
    if api and auth is not None and auth.type == "bearer":
        # A script's per-user token (yizhan user token NAME): no cookie, so no CSRF token.
        g.user = None
        config = current_app.config
        try:
            g.user = tokens.token_user_limited(
                get_db(), auth.token, client=client_id(),
                per_client=int(config["YIZHAN_LOGIN_FAILS_PER_CLIENT"]),
                window_s=int(config["YIZHAN_LOGIN_WINDOW_MINUTES"]) * 60)
        except RateLimited as exc:
            current_app.logger.warning("API token refused on %s: too many unknown tokens from client %s; "
                                       "retry after %d s", request.path, client_id(), exc.retry_after)
            raise
        g.basic_auth = g.user is not None
        return
    _load_session_user()


def _load_session_user():
    sid = session.get("sid")
    g.user = users.session_user(get_db(), sid) if sid else None
    if sid and g.user is None:
        session.pop("sid")  # ended or expired: forget it


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
        if getattr(view, "reads_credentials", False) and request.authorization is not None:
            return _credentials_checked()
        return None
    try:
        _load_user()
    except RateLimited as exc:
        return jsonify(error={"status": 429, "message": too_many_logins(exc),
                              "retry_after": exc.retry_after}), 429, {
                                  "Retry-After": str(exc.retry_after)}
    if g.user is None:
        if request.path.startswith("/api/"):
            return jsonify(error={"status": 401, "message": "请先登录（用户名和密码，或 API 令牌）。"}), 401
        return redirect(url_for("auth.login", next=request.full_path))
    if g.user["role"] not in roles:
        abort(403)
    g.scope = scope_of(get_db(), g.user)  # whose union: decided once, used by every query
    return None


def _credentials_checked():
    """A public view's caller sent credentials: a wrong one is refused, not ignored (a
    script that meant to see more must not silently get less)."""
    try:
        _load_user()
    except RateLimited as exc:
        return jsonify(error={"status": 429, "message": too_many_logins(exc),
                              "retry_after": exc.retry_after}), 429, {
                                  "Retry-After": str(exc.retry_after)}
    if g.user is None:
        return jsonify(error={"status": 401, "message": "用户名、密码或 API 令牌有误：请改正，"
                                                        "或不带凭据以公开身份访问。"}), 401
    return None


def init_app(app):
    app.before_request(_check_access)

    @app.before_request
    def _user_for_public_pages():
        if "user" not in g and session.get("sid"):
            _load_session_user()  # who is signed in, for the page header; no password checks
