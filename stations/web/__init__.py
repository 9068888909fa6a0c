"""The web layer: the app factory, blueprints and the rules every request passes."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import timedelta
from pathlib import Path

import orjson
from flask import Flask, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from .. import storage
from ..settings import from_environ
from . import access
from . import db as web_db
from . import serving, text_guard
from .negotiate import answers_json

__all__ = ["create_app", "csrf"]

ROOT = Path(__file__).resolve().parents[2]
csrf = CSRFProtect()


def _secret_key(config) -> str:
    if config.get("YIZHAN_SECRET_KEY"):
        return config["YIZHAN_SECRET_KEY"]
    # One key kept beside the database, so every gunicorn worker signs alike.
    path = Path(config["YIZHAN_DB"]).resolve().parent / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class FastJSONProvider(DefaultJSONProvider):
    """JSON answers through orjson: UTF-8 Chinese as is, several times faster."""

    def dumps(self, obj, **kwargs):
        return orjson.dumps(obj, default=self.default).decode()

    def loads(self, s, **kwargs):
        # orjson refuses nesting past 1,024 levels with a JSONDecodeError (a ValueError),
        # so request.get_json answers a 400 (or None when silent) instead of letting the
        # standard library's RecursionError become a 500.
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(orjson.dumps(obj, default=self.default),
                                        mimetype=self.mimetype)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request without the cookie (riders, API
    clients) gets its empty session without building a signing serializer first, and
    leaves with nothing more than ``Vary: Cookie`` when the session stayed empty."""

    def open_session(self, app, request):
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not session and not session.modified:  # no cookie came, none is to be set
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


class YizhanFlask(Flask):
    """Flask, remembering which hooks and views are plain functions: Flask asks
    ``inspect.iscoroutinefunction`` of each one on every request (none of ours is async)."""

    def ensure_sync(self, func):
        try:
            return self._sync_callables[func]
        except AttributeError:
            self._sync_callables = {}
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)
        if len(self._sync_callables) > 1024:  # bound methods are made afresh: stay bounded
            self._sync_callables.clear()
        sync = self._sync_callables[func] = super().ensure_sync(func)
        return sync


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings (environment, then ``config``), storage, blueprints."""
    Flask.json_provider_class = FastJSONProvider
    app = YizhanFlask("stations", root_path=str(ROOT), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.session_interface = CookieSessions()
    app.config.update(from_environ())
    app.config.update(config or {})
    app.config.update(
        SECRET_KEY=_secret_key(app.config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config["YIZHAN_SECURE_COOKIES"]),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(app.config["YIZHAN_SESSION_HOURS"])),
        MAX_CONTENT_LENGTH=int(app.config["YIZHAN_MAX_UPLOAD_MB"]) * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    if app.config["YIZHAN_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["YIZHAN_PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    # CSRF is checked by our own hook, for the methods that change things only: Flask-WTF's
    # default hook looks up exemptions on every GET first (a rider's search pays for it).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    if not app.config["WTF_CSRF_CHECK_DEFAULT"]:
        @app.before_request
        def csrf_protect():
            if (request.method in app.config["WTF_CSRF_METHODS"]
                    and app.config["WTF_CSRF_ENABLED"]):
                csrf.protect(apply_exemptions=True)
    web_db.init_app(app)
    access.init_app(app)
    text_guard.init_app(app)  # after access: who may not use a view learns nothing of its fields
    serving.init_app(app)  # security headers, compression, versioned static files

    from . import (admin, api, auth, campaign_tree, campaigns, campaigns_api, directory, ledger, ledger_api,
                   ogcapi, pages, plan, plan_report, riders, unions, unions_api)

    from . import campaign_actions  # noqa: F401  (its views join campaigns.bp before it is registered)

    for module in (pages, auth, directory, riders, admin, api, plan, plan_report, campaigns, campaign_tree,
                   campaigns_api, ledger, ledger_api, ogcapi, unions, unions_api):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)
    csrf.exempt(campaigns_api.bp)  # cookie sessions are checked in the views; bearer/basic need none
    csrf.exempt(ledger_api.bp)  # likewise
    csrf.exempt(unions_api.bp)  # likewise

    _register_errors(app)
    return app


def _wants_json() -> bool:
    return answers_json()


def _register_errors(app):
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = "表单已过期或缺少安全令牌，请返回刷新页面后重试。"
        if _wants_json():
            return jsonify(error={"status": 400, "message": "缺少安全令牌（CSRF）或已过期"}), 400
        return render_template("error.html", code=400, message=message), 400

    messages = {400: "请求有误。", 401: "请先登录。", 403: "您没有权限访问此页面。",
                404: "找不到该页面。", 405: "不支持该请求方法。",
                413: "上传的文件太大。", 429: "请求过于频繁，请稍后再试。"}

    @app.errorhandler(HTTPException)
    def http_error(error):
        # Keep what the exception says beside the body: Allow on a 405, WWW-Authenticate…
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        if _wants_json():
            # A view's own message is kept; werkzeug's English default is not shown.
            message = error.description
            if message == type(error).description:
                message = messages.get(error.code, f"请求未能完成（{error.code}）。")
            return jsonify(error={"status": error.code, "message": message}), error.code, headers
        return render_template("error.html", code=error.code,
                               message=messages.get(error.code, error.name)), error.code, headers

    @app.errorhandler(Exception)
    def server_error(error):
        app.logger.exception("unhandled error on %s", request.path)
        if _wants_json():
            return jsonify(error={"status": 500, "message": "服务器出错了，请稍后再试。"}), 500
        return render_template("error.html", code=500, message="服务器出错了，请稍后再试。"), 500

    # Another writer (an import, a restore) held the database past the busy timeout:
    # a temporary state, so 503 and when to retry, never a 500.
    busy_message = "数据库正忙（可能正在导入或恢复数据），请稍后再试。"

    def database_busy(error):
        app.logger.warning("database busy on %s %s: %s", request.method, request.path, error)
        retry = {"Retry-After": str(storage.DatabaseBusy.retry_after)}
        if _wants_json():
            return jsonify(error={"status": 503, "message": busy_message}), 503, retry
        return render_template("error.html", code=503, message=busy_message), 503, retry

    app.register_error_handler(storage.DatabaseBusy, database_busy)

    # A body the server cannot read (bad chunked encoding) is the client's
    # fault: 400, never a 500.  gunicorn raises these from request.stream.read().
    from gunicorn.http.errors import ParseException

    def unreadable_body(error):
        app.logger.warning("unreadable request body on %s %s: %r", request.method, request.path, error)
        message = "请求体无法读取（分块编码有误或不完整）。"
        if _wants_json():
            return jsonify(error={"status": 400, "message": message}), 400
        return render_template("error.html", code=400, message=message), 400

    app.register_error_handler(ParseException, unreadable_body)

    @app.errorhandler(sqlite3.OperationalError)
    def database_error(error):
        # A single write outside write_transaction can still meet the lock.
        return database_busy(error) if storage.is_busy_error(error) else server_error(error)

    @app.context_processor
    def inject_user():
        return {"current_user": g.get("user")}

    # import reports name files, encodings and datums in words, never by their codes
    from ..registry.readers import DATUM_LABELS, describe_file

    app.add_template_global(describe_file)
    app.add_template_global(DATUM_LABELS, "DATUM_LABELS")
