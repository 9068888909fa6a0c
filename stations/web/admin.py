"""Keeping the registry true (admin): create, edit, close, reopen, restore, import."""

from flask import (Blueprint, Response, abort, current_app, flash, g, jsonify, make_response,
                   redirect, render_template, request, stream_with_context, url_for)

from ..riders import feedback
from .. import jobs, storage
from ..registry.history import beijing_time, describe_history, hours_as_typed
from ..registry.records import FACILITIES, STATION_TYPES, STATUSES
from ..registry.edit import save_station
from ..registry.importer import new_unions_summary
from ..riders.search import district_choices
from ..storage import HistoryNotFound, StationNotFound
from ..text import shown
from ..unions.admin import unplaced_count, visible_unions
from ..unions.scope import in_scope
from .access import allow
from .db import get_db
from .text_guard import checks_own_text

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.app_template_filter("beijing")(beijing_time)
bp.app_template_global("new_unions_summary")(new_unions_summary)
FORM_FIELDS = ("name", "address", "district", "subdistrict", "lon", "lat", "host_union",
               "manager", "manager_phone", "note", "station_type", "hours", "status")


def get_station_or_404(station_id):
    """The station (private fields too): 404 if there is none, 403 if it lies outside the
    signed-in user's part of the union tree."""
    try:
        station = storage.get_station(get_db(), station_id, private=True)
    except StationNotFound:
        abort(404)
    if not in_scope(get_db(), g.scope, station.get("host_union_id")):
        abort(403)
    return station


def _form_values(station=None):
    """What the form shows: the stored station, or what the user typed."""
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in FORM_FIELDS}
        values["facilities"] = request.form.getlist("facilities")
        values["datum"] = request.form.get("datum", "wgs84")
        return values
    values = {name: ("" if (station or {}).get(name) is None else station[name])
              for name in FORM_FIELDS}
    if station:
        # What the organiser declared; "" keeps 按坐标自动判定 (the district from the point),
        # so saving an untouched form does not turn the derived district into a declared one.
        values["district"] = station.get("district_declared") or ""
        values["hours"] = hours_as_typed(station)  # as the organiser wrote them
    values["facilities"] = (station or {}).get("facilities", [])
    values["station_type"] = values["station_type"] or "warm_station"
    values["status"] = values["status"] or "active"
    values["datum"] = "wgs84"
    return values


def _districts():
    """Districts in official order, then any other names stations carry."""
    official = district_choices(current_app.config["YIZHAN_REGION"])
    return official + [d for d in storage.district_names(get_db()) if d not in official]


def _render_form(station, values, errors=None, warnings=None, status=200):
    from ..maps import TILES

    # as typed, but a refused control character shows as � (never sent back raw)
    values = {k: [shown(x) for x in v] if isinstance(v, list) else shown(v) if isinstance(v, str) else v
              for k, v in values.items()}

    return render_template("admin/station_form.html", station=station, values=values,
                           errors=errors or {}, warnings=warnings or [], facilities=FACILITIES,
                           types=STATION_TYPES, statuses=STATUSES, districts=_districts(),
                           tile=TILES[current_app.config["YIZHAN_TILES"]],
                           names=[u["name"] for u in visible_unions(get_db(), g.scope)]), status


def _save(station_id=None):
    values = _form_values()
    result = save_station(get_db(), {k: v for k, v in values.items() if k != "datum"},
                          station_id=station_id, datum=values["datum"],
                          region=current_app.config["YIZHAN_REGION"], username=g.user["username"],
                          scope=g.scope)
    return values, result


@bp.get("")
@allow("admin", "reviewer", "planner", "union")
def index():
    """The signed-in home: what this role can do."""
    admin = g.user["role"] == "admin"
    unplaced = unplaced_count(get_db(), g.scope) if admin else 0
    return render_template("admin/index.html", summary=storage.registry_summary(get_db(), scope=g.scope),
                           statuses=STATUSES, scope=g.scope,
                           flagged=len(feedback.flag_queue(get_db(), scope=g.scope)) if admin else 0,
                           unplaced_unions=unplaced)


@bp.get("/stations")
@allow("admin")
def stations():
    """All stations, pending and closed included, for the organiser: search and filters."""
    args = request.args
    q = args.get("q", "").strip()[:100]
    status = args.get("status", "") if args.get("status", "") in STATUSES else ""
    district = args.get("district", "").strip()[:30]
    mismatch = args.get("mismatch") == "1"
    page = min(max(1, args.get("page", 1, type=int) or 1), 1_000_000)
    filters = dict(q=q or None, status=status or None, district=district or None, mismatch=mismatch,
                   scope=g.scope)
    rows, total = storage.search_stations(get_db(), **filters, limit=50, offset=(page - 1) * 50,
                                          private=True)
    pages = max(1, -(-total // 50))
    if page > pages:
        page = pages
        rows, _ = storage.search_stations(get_db(), **filters, limit=50, offset=(page - 1) * 50,
                                          private=True)
    return render_template("admin/stations.html", stations=rows, total=total, q=q, page=page,
                           pages=pages, statuses=STATUSES, status=status, district=district,
                           mismatch=mismatch, districts=_districts())


@bp.route("/stations/new", methods=["GET", "POST"])
@allow("admin")
@checks_own_text(*FORM_FIELDS, "facilities")  # records.control_problem, beside each field
def new_station():
    """Create a station."""
    if request.method == "GET":
        return _render_form(None, _form_values())
    values, result = _save()
    if not result.ok:
        return _render_form(None, values, result.errors_by_field(), result.warnings, 400)
    _flash_saved(result, "已创建站点。")
    return redirect(url_for("admin.station", station_id=result.station["id"]))


@bp.route("/stations/<int:station_id>/edit", methods=["GET", "POST"])
@allow("admin")
@checks_own_text(*FORM_FIELDS, "facilities")  # records.control_problem, beside each field
def edit_station(station_id):
    """Edit a station."""
    station = get_station_or_404(station_id)
    if request.method == "GET":
        return _render_form(station, _form_values(station))
    values, result = _save(station_id)
    if not result.ok:
        return _render_form(station, values, result.errors_by_field(), result.warnings, 400)
    _flash_saved(result, "已保存修改。")
    return redirect(url_for("admin.station", station_id=station_id))


def _flash_saved(result, message):
    flash(message)
    for warning in result.warnings:
        flash(f"注意：{warning.message}")


@bp.get("/stations/<int:station_id>")
@allow("admin")
def station(station_id):
    """A station with its private fields and its history."""
    station = get_station_or_404(station_id)
    return render_template("admin/station.html", station=station,
                           history=describe_history(storage.station_history(get_db(), station_id)),
                           hours_zh=hours_as_typed(station),
                           satisfaction=feedback.satisfaction(get_db(), station_id),
                           recent=feedback.recent_feedback(get_db(), station_id, 10),
                           found=feedback.FOUND, flags=feedback.FLAGS,
                           statuses=STATUSES, types=STATION_TYPES, facilities=FACILITIES)


@bp.post("/stations/<int:station_id>/status")
@allow("admin")
def set_status(station_id):
    """Close, suspend or reopen a station."""
    get_station_or_404(station_id)
    status = request.form.get("status", "")
    if status not in STATUSES:
        abort(400)
    storage.set_status(get_db(), station_id, status, username=g.user["username"])
    flash(f"状态已改为“{STATUSES[status]}”。")
    return redirect(url_for("admin.station", station_id=station_id))


@bp.post("/stations/<int:station_id>/restore/<int:history_id>")
@allow("admin")
def restore(station_id, history_id):
    """Restore the station as it was after one change (the restore is recorded too)."""
    get_station_or_404(station_id)
    try:
        storage.restore_version(get_db(), station_id, history_id, username=g.user["username"])
    except HistoryNotFound:
        abort(404)
    flash("已恢复到所选版本。")
    return redirect(url_for("admin.station", station_id=station_id))


@bp.route("/import", methods=["GET", "POST"])
@allow("admin")
def import_page():
    """Import a station list (CSV, XLSX, GeoJSON): the upload becomes a background job."""
    if request.method == "GET":
        return _render_import({})
    upload = request.files.get("file")
    form = {"datum": request.form.get("datum", "wgs84"),
            "dry_run": bool(request.form.get("dry_run")),
            "skip_invalid": bool(request.form.get("skip_invalid"))}
    if upload is None or not upload.filename:
        return _render_import(form, "请选择要导入的文件。"), 400
    if form["datum"] not in ("wgs84", "gcj02", "bd09"):
        return _render_import(form, "坐标系必须是 wgs84、gcj02 或 bd09。"), 400
    db_path = current_app.config["YIZHAN_DB"]
    jobs.forget_kept_uploads(get_db(), db_path)
    try:
        saved = jobs.save_upload(db_path, upload.save)
    finally:
        upload.close()  # the spooled upload's temporary file, now copied

    job_id = jobs.create_job(get_db(), filename=upload.filename, upload=saved,
                             options=dict(form, region=current_app.config["YIZHAN_REGION"]),
                             username=g.user["username"], union_id=g.user.get("union_id"))
    jobs.launch(db_path, job_id)
    return redirect(url_for("admin.import_job", job_id=job_id), 303)


def _render_import(form, error=None, job=None):
    return render_template("admin/import.html", form=form, error=error, job=job,
                           report=job["report"] if job else None,
                           can_import_valid=bool(job) and jobs.can_import_valid_rows(job),
                           recent=[] if job else jobs.recent_jobs(get_db(), scope=g.scope))


def _job_or_404(job_id):
    """An import job: 404 if there is none, 403 if its union lies outside the user's scope."""
    job = jobs.get_job(get_db(), job_id, current_app.config["YIZHAN_DB"])
    if job is None:
        abort(404)
    if not in_scope(get_db(), g.scope, job.get("union_id")):
        abort(403)
    return job


@bp.get("/import/jobs/<int:job_id>")
@allow("admin")
def import_job(job_id):
    """An import job: its progress while it runs, then its report."""
    job = _job_or_404(job_id)
    response = make_response(_render_import(dict(job["options"]), job=job))
    if not job["finished"]:
        response.headers["Refresh"] = "2"  # a header, so no script or CSP exception is needed
    return response


@bp.post("/import/jobs/<int:job_id>/valid-rows")
@allow("admin")
def import_valid_rows(job_id):
    """Import the valid rows of a checked upload in one click (no second upload)."""
    _job_or_404(job_id)
    new_id = jobs.import_valid_rows(get_db(), job_id, username=g.user["username"],
                                    union_id=g.user.get("union_id"))
    if new_id is None:
        flash("这个文件已经导入过，或已超过保留时间（24 小时），请重新上传。")
        return redirect(url_for("admin.import_job", job_id=job_id), 303)
    jobs.launch(current_app.config["YIZHAN_DB"], new_id)
    return redirect(url_for("admin.import_job", job_id=new_id), 303)


EXPORT_CHOICES = {"csv": ("CSV（Excel 可打开）", "text/csv; charset=utf-8"),
                  "xlsx": ("XLSX（Excel 工作簿）",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                  "geojson": ("GeoJSON（地图软件）", "application/geo+json")}
DATUMS = {"wgs84": "WGS-84（GPS）", "gcj02": "GCJ-02（高德、腾讯）", "bd09": "BD-09（百度）"}


@bp.get("/export")
@allow("admin")
def export_page():
    """Choose an export: format, datum, and whether personal fields go along."""
    return render_template("admin/export.html", formats=EXPORT_CHOICES, datums=DATUMS,
                           statuses=STATUSES, error=None, form={})


@bp.get("/export/download")
@allow("admin")
def export_download():
    """The whole registry (or one status) as a file, streamed as it is written."""
    from ..registry.exporter import iter_export

    form = request.args
    fmt, datum, status = form.get("format", ""), form.get("datum", "wgs84"), form.get("status", "")
    error = ("请选择文件格式（CSV、XLSX 或 GeoJSON）。" if fmt not in EXPORT_CHOICES else
             "坐标系必须是 WGS-84、GCJ-02 或 BD-09。" if datum not in DATUMS else
             "不认识的状态。" if status and status not in STATUSES else None)
    if error:
        return render_template("admin/export.html", formats=EXPORT_CHOICES, datums=DATUMS,
                               statuses=STATUSES, error=error, form=form), 400
    private = form.get("personal") == "1"  # personal data only when asked for explicitly
    stations = storage.iter_stations(get_db(), private=private, statuses=[status] if status else None,
                                     scope=g.scope)
    chunks = iter_export(stations, fmt, datum=datum, private=private)
    stamp = storage.now_iso()[:10].replace("-", "")
    name = f"yizhan-stations-{stamp}{'-' + datum if datum != 'wgs84' else ''}" \
           f"{'-personal' if private else ''}.{fmt}"
    response = Response(stream_with_context(chunks), content_type=EXPORT_CHOICES[fmt][1])  # charset once
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"  # personal data stays off shared caches
    return response


@bp.get("/import/jobs/<int:job_id>.json")
@allow("admin")
def import_job_status(job_id):
    """An import job's state and progress, for polling."""
    return jsonify(jobs.status(_job_or_404(job_id)))


@bp.get("/flags")
@allow("admin")
def flags():
    """The review queue: stations riders found closed, missing or moved."""
    from .ledger import flag_context

    return render_template("admin/flags.html", queue=feedback.flag_queue(get_db(), scope=g.scope),
                           flags=feedback.FLAGS, resolutions=feedback.RESOLUTIONS, **flag_context())


@bp.post("/flags/<int:station_id>/resolve")
@allow("admin")
def resolve_flags(station_id):
    """Mark a station's open reports as handled, saying what was done."""
    get_station_or_404(station_id)
    resolution = request.form.get("resolution", "")
    if resolution not in feedback.RESOLUTIONS:
        flash("请选择处理结果（已更正开放时间、已关闭站点、误报……）再标记已处理。")
        return redirect(url_for("admin.flags"))
    count = feedback.resolve_flags(get_db(), station_id, username=g.user["username"],
                                   resolution=resolution)
    flash(f"已处理 {count} 条反馈：{feedback.RESOLUTIONS[resolution]}。")
    return redirect(url_for("admin.flags"))
