"""The public station directory: list, station page, small map."""

from flask import Blueprint, abort, current_app, render_template, request, url_for

from ..riders import directory as core
from ..maps import station_map_html
from ..registry.records import FACILITIES, STATUSES
from ..riders.search import district_choices, station_page
from ..storage import StationNotFound, district_names
from .access import PUBLIC, allow
from .db import get_db

bp = Blueprint("directory", __name__, url_prefix="/stations")


def get_public_or_404(station_id):
    try:
        return core.get_public_station(get_db(), station_id)
    except StationNotFound:
        abort(404)


def _districts():
    """Districts in official order (as the rider page lists them), then any others."""
    official = district_choices(current_app.config["YIZHAN_REGION"])
    return official + [d for d in district_names(get_db()) if d not in official]


@bp.get("")
@allow(PUBLIC)
def index():
    """Search and browse stations."""
    try:
        query = core.parse_directory_query(request.args)
    except core.QueryError as exc:
        query, error = core.DirectoryQuery(q=request.args.get("q", "")[:100]), exc.zh
    else:
        error = None
    stations, total, pages = core.search_public(get_db(), query, current_app.config["YIZHAN_PAGE_SIZE"])
    return render_template("directory/index.html", stations=stations, total=total, pages=pages,
                           query=query, error=error, districts=_districts(),
                           facilities=FACILITIES,
                           statuses={k: STATUSES[k] for k in core.PUBLIC_STATUSES})


@bp.get("/<int:station_id>")
@allow(PUBLIC)
def detail(station_id):
    """One station: address, hours and whether it is open now, facilities, awards, map."""
    station = get_public_or_404(station_id)
    return render_template("directory/detail.html", **station_page(
        get_db(), station, tencent_referer=current_app.config["YIZHAN_TENCENT_REFERER"]),
                           errors={}, form=request.form)


@bp.get("/<int:station_id>/map")
@allow(PUBLIC)
def station_map(station_id):
    """The small map on a station page (loaded in a frame, so the page stays light)."""
    station = get_public_or_404(station_id)
    return station_map_html(station, tiles=current_app.config["YIZHAN_TILES"],
                            static_url=url_for("static", filename="vendor/leaflet/"))
