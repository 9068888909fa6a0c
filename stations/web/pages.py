"""The home page and small public pages."""

from flask import Blueprint, current_app, jsonify, redirect, send_from_directory, url_for

from .access import PUBLIC, allow

bp = Blueprint("pages", __name__)


@bp.get("/")
@allow(PUBLIC)
def index():
    """Home: riders land on the nearest-station finder."""
    return redirect(url_for("riders.nearby"))


@bp.get("/healthz")
@allow(PUBLIC)
def healthz():
    """A trivial JSON answer (liveness; also the framework's own ceiling in benchmarks)."""
    return jsonify(ok=True)


@bp.get("/favicon.ico")
@allow(PUBLIC)
def favicon():
    """The site icon where browsers look for it first (no 404 on every page)."""
    return send_from_directory(current_app.static_folder, "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=86400)
