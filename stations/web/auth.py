"""Logging in and out."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for

from .. import users
from .access import PUBLIC, allow, login_user, logout_user
from .db import get_db

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a login to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login():
    """Log in with username and password."""
    error = None
    if request.method == "POST":
        user = users.authenticate(get_db(), request.form.get("username", ""),
                                  request.form.get("password", ""))
        if user:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "用户名或密码错误。"
    return render_template("auth/login.html", error=error,
                           username=request.form.get("username", "")), (401 if error else 200)


@bp.post("/logout")
@allow(PUBLIC)
def logout():
    """Log out."""
    logout_user()
    flash("已退出登录。")
    return redirect(url_for("directory.index"))
