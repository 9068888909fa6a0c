"""Logging in and out."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..accounts.limits import RateLimited
from .access import PUBLIC, allow, log_in, login_user, logout_user, too_many_logins

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a login to another host.  Control characters
    # (a CR/LF would split the Location header; a tab is dropped by browsers) refuse it too.
    if (target and target.startswith("/") and not target.startswith("//")
            and not any(ord(c) < 32 or ord(c) == 127 for c in target) and not urlsplit(target).netloc):
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login():
    """Log in with username and password."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            user = log_in(request.form.get("username", ""), request.form.get("password", ""))
        except RateLimited as exc:
            error, status = too_many_logins(exc), 429
            headers["Retry-After"] = str(exc.retry_after)
        else:
            if user:
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
            error, status = "用户名或密码错误。", 401
    return render_template("auth/login.html", error=error,
                           username=request.form.get("username", "")), status, headers


@bp.post("/logout")
@allow(PUBLIC)
def logout():
    """Log out."""
    logout_user()
    flash("已退出登录。")
    return redirect(url_for("directory.index"))
