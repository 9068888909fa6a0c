"""Rider pages: the nearest stations, feedback on a station, the QR code for its wall."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ..riders import search as core
from ..riders.directory import QueryError, get_public_station
from ..riders.feedback import FeedbackError, RateLimited, client_key, submit_feedback
from ..maps import TILES
from ..riders.qr import UntrustedHost, public_url, qr_svg
from ..registry.records import FACILITIES
from ..storage import StationNotFound
from .access import PUBLIC, allow
from .db import get_db

bp = Blueprint("riders", __name__)
FACILITY_ICONS = {"water": "💧", "fridge": "🧊", "microwave": "🍱", "charging": "🔌",
                  "tyre_inflation": "🚲", "rain_gear": "☂", "first_aid": "🩹",
                  "epidemic_supplies": "😷", "toilet": "🚻", "rest_area": "🪑",
                  "vending_24h": "🏪", "battery_swap": "🔋", "wifi": "📶", "books": "📚",
                  "haircut": "💈", "legal_aid": "⚖", "meals": "🍚", "heating": "🔥",
                  "cooling": "❄", "repair": "🔧"}


@bp.get("/nearby")
@allow(PUBLIC)
def nearby():
    """Find the nearest stations: by location (button, map tap, URL) or by district."""
    answer, error = None, None
    region = current_app.config["YIZHAN_REGION"]
    if any(request.args.get(name) for name in ("lat", "lon", "district")):
        try:
            query = core.parse_nearby_query(request.args.to_dict(),
                                            request.args.getlist("facility"), region)
            answer = core.nearest_for_page(
                get_db(), query, current_app.config["YIZHAN_DB"], region=region,
                tencent_referer=current_app.config["YIZHAN_TENCENT_REFERER"])
        except QueryError as exc:
            error = exc.zh
    return render_template("riders/nearby.html", answer=answer, error=error,
                           facilities=FACILITIES, icons=FACILITY_ICONS,
                           districts=core.district_choices(region),
                           tile=TILES[current_app.config["YIZHAN_TILES"]]), (400 if error else 200)


def _public_or_404(station_id):
    try:
        return get_public_station(get_db(), station_id)
    except StationNotFound:
        abort(404)


@bp.post("/stations/<int:station_id>/feedback")
@allow(PUBLIC)
def feedback(station_id):
    """Take a rider's rating, ticks and note (anonymous, rate-limited)."""
    station = _public_or_404(station_id)
    config = current_app.config
    try:
        submit_feedback(get_db(), station_id, request.form,
                        client=client_key(request.remote_addr or "", config["SECRET_KEY"]),
                        limits={"per_client": config["YIZHAN_FEEDBACK_PER_CLIENT"],
                                "global": config["YIZHAN_FEEDBACK_GLOBAL"]})
    except FeedbackError as exc:
        return _detail(station, errors=exc.errors, status=400)
    except RateLimited as exc:
        message = (f"提交太频繁了，请 {-(-exc.retry_after // 60)} 分钟后再试。"
                   if exc.scope == "client" else "提交的人太多了，请稍后再试。")
        response = _detail(station, errors={"form": message}, status=429)
        return response[0], response[1], {"Retry-After": str(exc.retry_after)}
    flash("谢谢您的反馈！", "feedback")  # shown in the feedback section, where the rider is
    return redirect(url_for("directory.detail", station_id=station_id) + "#feedback")


def _detail(station, errors, status):
    return render_template("directory/detail.html", **core.station_page(
        get_db(), station, tencent_referer=current_app.config["YIZHAN_TENCENT_REFERER"]),
                           errors=errors, form=request.form), status


def _public_url(path):
    config = current_app.config
    return public_url(path, base_url=config["YIZHAN_PUBLIC_URL"], host=request.host,
                      scheme=request.scheme, trusted_hosts=config["YIZHAN_TRUSTED_HOSTS"].split(","))


@bp.get("/stations/<int:station_id>/qr")
@allow(PUBLIC)
def qr(station_id):
    """A printable sheet with the station's QR code, to hang on its wall."""
    station = _public_or_404(station_id)
    try:
        url = _public_url(url_for("directory.detail", station_id=station_id))
    except UntrustedHost as exc:
        return render_template("error.html", code=400, message=exc.zh), 400
    return render_template("riders/qr.html", station=station, url=url, svg=qr_svg(url))


@bp.get("/stations/<int:station_id>/qr.svg")
@allow(PUBLIC)
def qr_image(station_id):
    """The QR code alone, as an SVG file for a print shop."""
    _public_or_404(station_id)
    try:
        url = _public_url(url_for("directory.detail", station_id=station_id))
    except UntrustedHost as exc:
        return render_template("error.html", code=400, message=exc.zh), 400
    return current_app.response_class(qr_svg(url), mimetype="image/svg+xml", headers={
        "Content-Disposition": f"inline; filename=yizhan-station-{station_id}-qr.svg"})
