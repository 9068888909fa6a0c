"""The home page and small public pages."""

from flask import Blueprint, jsonify, redirect, url_for

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
