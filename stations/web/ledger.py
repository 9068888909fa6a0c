"""Station keepers' pages: the daily ledger, 双沟通 meetings, the month import, reports,
and the riders' one-tap check-in on the station page (rules live in stations.ledger)."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from flask import (Blueprint, abort, current_app, flash, g, jsonify, make_response, redirect,
                   render_template, request, url_for)
from werkzeug.datastructures import MultiDict

from .. import jobs
from .. import ledger as core
from ..accounts.limits import RateLimited
from ..riders.search import district_choices, station_page
from ..riders.directory import get_public_station
from ..storage import StationNotFound, get_station
from ..unions.scope import in_scope
from .access import PUBLIC, allow, client_id
from .db import get_db

bp = Blueprint("ledger", __name__)
KEEPERS = ("admin", "union")
READERS = ("admin", "planner", "union")


def _districts():
    return district_choices(current_app.config["YIZHAN_REGION"])


def _station_or_abort(station_id):
    """The station if the signed-in user keeps its ledger: 404 unknown, 403 another union's."""
    try:
        return core.station_for(get_db(), station_id, g.user, scope=g.scope)
    except core.LedgerError as exc:
        abort(exc.status)


def thresholds() -> core.Thresholds:
    """The ledger flags' thresholds (settings ``YIZHAN_LEDGER_FLAG_*``): also the campaign
    ranking's 面子工程 rule's."""
    return core.Thresholds.from_settings(current_app.config)


def checkin_limits() -> dict:
    config = current_app.config
    return {"per_client": config["YIZHAN_CHECKIN_PER_CLIENT"], "global": config["YIZHAN_CHECKIN_GLOBAL"],
            "repeat_minutes": config["YIZHAN_CHECKIN_REPEAT_MINUTES"]}


def checkin_refusal(exc: RateLimited) -> str:
    if exc.scope == "station":
        return f"您刚刚已在本站签到过了，{-(-exc.retry_after // 60)} 分钟后可再签。"
    if exc.scope == "client":
        return f"签到太频繁了，请 {-(-exc.retry_after // 60)} 分钟后再试。"
    return "签到的人太多了，请稍后再试。"


# --- the ledger ----------------------------------------------------------------------

@bp.get("/ledger")
@allow(*READERS)
def index():
    """The keeper's home: their stations with the last ledger day, and what else to do."""
    q, district = request.args.get("q", "")[:50].strip(), request.args.get("district", "")[:30]
    stations = core.keeper_stations(get_db(), scope=g.scope, q=q, district=district,
                                    limit=100) if g.user["role"] in KEEPERS else []
    return render_template("ledger/index.html", stations=stations, q=q, district=district,
                           districts=_districts(), today=core.today().isoformat())


@bp.route("/ledger/stations/<int:station_id>", methods=["GET", "POST"])
@allow(*KEEPERS)
def day(station_id):
    """One station's ledger for one day: the form, the day's earlier versions, recent days."""
    station = _station_or_abort(station_id)
    db, errors, values = get_db(), {}, None
    if request.method == "POST":
        try:
            saved = core.save_entry(db, station_id, request.form, g.user, scope=g.scope)
        except core.LedgerError as exc:
            if exc.status != 400:
                abort(exc.status)
            errors, values = exc.errors, request.form
        else:
            when = saved["entry"]["date"]
            flash(f"已更新 {when} 的台账（原记录已存入历史）。" if saved["replaced"]
                  else f"已保存 {when} 的台账。", "ledger")
            return redirect(url_for("ledger.day", station_id=station_id, date=when) + "#saved")
    try:
        when = core.parse_date(request.values.get("date") or core.today(), not_after=core.today())
    except core.LedgerError as exc:
        errors.setdefault("date", exc.message)
        when = core.today()
    entry = core.get_entry(db, station_id, when.isoformat())
    if values is None:
        values = {"date": when.isoformat(), "note": (entry or {}).get("note") or ""}
        for group, prefix in (("visitors", "v_"), ("services", "s_")):
            for code in (core.VISITORS if group == "visitors" else core.SERVICES):
                n = (entry or {}).get(group, {}).get(code, 0)
                values[prefix + code] = str(n) if n else ""
    return render_template("ledger/day.html", station=station, values=values, errors=errors, entry=entry,
                           history=core.entry_history(db, station_id, when.isoformat()),
                           recent=core.recent_days(db, station_id, 14), visitors=core.VISITORS,
                           services=core.SERVICES, today=core.today().isoformat()), (400 if errors else 200)


@bp.route("/ledger/import", methods=["GET", "POST"])
@allow(*KEEPERS)
def import_page():
    """Upload a month's ledger (XLSX or CSV): the upload becomes a background job (a month
    of 30,000 stations is some 900,000 rows), checked row by row, written only if all is right."""
    if request.method == "GET":
        return _render_import()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的台账文件（.xlsx 或 .csv）。")
        return redirect(url_for("ledger.import_page"))
    db_path = current_app.config["YIZHAN_DB"]
    jobs.forget_kept_uploads(get_db(), db_path)
    try:
        saved = jobs.save_upload(db_path, upload.save)
    finally:
        upload.close()  # the spooled upload's temporary file, now copied
    job_id = jobs.create_job(get_db(), filename=upload.filename, upload=saved, kind="ledger",
                             options={"dry_run": bool(request.form.get("dry_run")),
                                      "month": (request.form.get("month") or "").strip()[:20] or None},
                             username=g.user["username"])
    jobs.launch(db_path, job_id)
    return redirect(url_for("ledger.import_job", job_id=job_id), 303)


def _render_import(job=None):
    recent = [] if job else jobs.recent_jobs(get_db(), kind="ledger", scope=g.scope)
    return render_template("ledger/import.html", job=job, report=job["report"] if job else None, recent=recent,
                           visitors=core.VISITORS, services=core.SERVICES,
                           can_write=bool(job) and jobs.can_import_valid_rows(job))


def _ledger_job_or_404(job_id):
    """A ledger import job the signed-in user may see: one of its scope's unions (a union
    user: its own union's, whichever colleague uploaded it); others are not found."""
    job = jobs.get_job(get_db(), job_id, current_app.config["YIZHAN_DB"])
    if job is None or job["kind"] != "ledger" or not in_scope(get_db(), g.scope, job.get("union_id")):
        abort(404)
    return job


@bp.get("/ledger/import/jobs/<int:job_id>")
@allow(*KEEPERS)
def import_job(job_id):
    """A month import: its progress while it runs (the page refreshes), then its report
    (400 when the file had errors and nothing was written)."""
    job = _ledger_job_or_404(job_id)
    response = make_response(_render_import(job))
    if not job["finished"]:
        response.headers["Refresh"] = "2"  # a header, so no script or CSP exception is needed
    elif job["report"] is not None and not job["report"].ok:
        response.status_code = 400
    return response


@bp.post("/ledger/import/jobs/<int:job_id>/write")
@allow(*KEEPERS)
def import_checked(job_id):
    """Import a file whose check passed, as it was checked (no second upload)."""
    _ledger_job_or_404(job_id)
    new_id = jobs.import_valid_rows(get_db(), job_id, username=g.user["username"])
    if new_id is None:
        flash("这个文件已经导入过，或已超过保留时间（24 小时），请重新上传。")
        return redirect(url_for("ledger.import_job", job_id=job_id), 303)
    jobs.launch(current_app.config["YIZHAN_DB"], new_id)
    return redirect(url_for("ledger.import_job", job_id=new_id), 303)


@bp.get("/ledger/import/jobs/<int:job_id>.json")
@allow(*KEEPERS)
def import_job_status(job_id):
    """A month import's state and progress, for polling."""
    return jsonify(jobs.status(_ledger_job_or_404(job_id)))


# --- meetings ------------------------------------------------------------------------

def _meeting_filters():
    out = {"district": request.args.get("district", "")[:30]}
    for name in ("from", "to"):
        try:
            out[name] = core.parse_date(request.args[name], name) if request.args.get(name) else None
        except core.LedgerError:
            out[name] = None
    return out


@bp.route("/ledger/meetings", methods=["GET", "POST"])
@allow(*KEEPERS)
def meetings():
    """双沟通 meetings: record one (counts only), list those this user may see."""
    db, errors, values = get_db(), {}, {"date": core.today().isoformat(), "kind": "worker"}
    status = 200
    if request.method == "POST":
        try:
            meeting = core.add_meeting(db, request.form, g.user, districts=_districts(), scope=g.scope)
        except core.LedgerError as exc:
            if exc.status == 403 and exc.field != "district":
                abort(403)  # another union's station: a forged form
            # another district: said on the form (403), with what was typed
            status = exc.status
            errors, values = exc.errors or {exc.field or "form": exc.message}, request.form
        else:
            flash(f"已记录 {meeting['date']} 的{core.MEETING_KINDS[meeting['kind']]}。", "ledger")
            return redirect(url_for("ledger.meetings") + "#saved")
    filters = _meeting_filters()
    listed = core.list_meetings(db, user=g.user, district=filters["district"], start=filters["from"],
                                end=filters["to"], limit=200, scope=g.scope)
    stations = core.keeper_stations(db, scope=g.scope, limit=500)
    # a union records meetings in its stations' districts only: those are its choices
    own = core.union_districts(db, g.scope, _districts()) if g.user["role"] == "union" else None
    return render_template("ledger/meetings.html", meetings=listed, values=values, errors=errors,
                           kinds=core.MEETING_KINDS, counts=core.MEETING_COUNTS,
                           districts=_districts() if own is None else own, own_districts=own,
                           filter_districts=_districts(), confirm_label=core.CONFIRM_LABEL,
                           stations=stations, filters=filters, today=core.today().isoformat()), \
        (status if errors else 200)


# --- reports -------------------------------------------------------------------------

def _report_args():
    this_year = core.today().year
    try:
        year = int(request.args.get("year") or this_year)
    except ValueError:
        year = this_year
    year = min(max(year, 2015), this_year)
    district = request.args.get("district", "")[:30]
    if district and district not in _districts():
        district = ""
    return year, district


def _scope_label(district):
    if g.user["role"] == "union":
        return "本工会"
    if district:
        return "全区"
    if not g.scope.everything:
        return g.scope.name or "本工会"
    return "全市" if current_app.config["YIZHAN_REGION"] == "beijing" else "全国"


def _report(year, district):
    db = get_db()
    start, end = date(year, 1, 1), date(year, 12, 31)
    report = core.ledger_report(db, start=start, end=end, district=district or None, scope=g.scope,
                                district_order=_districts(), with_kinds=True)
    so_far = f"（截至 {report['period']['to']}）" if year == core.today().year else ""
    title = f"{year}年{district}{so_far}，"
    summary = core.year_summary(report, scope=_scope_label(district), title=title)
    return report, summary


@bp.get("/ledger/reports")
@allow(*READERS)
def reports():
    """Figures per month, district and station for a year, with charts and downloads."""
    year, district = _report_args()
    report, summary = _report(year, district)
    stations = core.station_table(get_db(), start=date(year, 1, 1), end=date(year, 12, 31),
                                  district=district or None, scope=g.scope)
    months = [m["month"] for m in report["months"]]
    partial = core.partial_month(report)
    visits_chart = core.line_chart(months, [("来访人次", [m["visits"] for m in report["months"]], "visits"),
                                            ("服务次数", [m["services"] for m in report["months"]], "services")],
                                   title=f"{year}年每月来访与服务", partial=partial)
    meetings_chart = core.panels_chart(  # each on its own axis: tens of members beside thousands of check-ins
        months, [("骑手签到", [m["checkins"] for m in report["months"]], "checkins"),
                 ("新入会", [m["new_members"] for m in report["months"]], "members"),
                 ("沟通会", [m["meetings_worker"] + m["meetings_enterprise"] for m in report["months"]],
                  "meetings")], title=f"{year}年每月签到、入会与沟通会", partial=partial)
    bars = core.bar_chart([(d["district"], d["visits"]) for d in sorted(
        report["districts"], key=lambda d: -d["visits"])], title=f"{year}年各区来访人次", unit="")
    return render_template("ledger/reports.html", report=report, summary=summary, year=year,
                           district=district, districts=_districts(),
                           stations=[s for s in stations if s["station_id"]][:200]
                           + [s for s in stations if not s["station_id"]],  # the row away from stations
                           station_count=sum(1 for s in stations if s["station_id"]), visits_chart=visits_chart,
                           meetings_chart=meetings_chart, bars=bars, labels=core.FIGURE_LABELS, partial=partial,
                           years=list(range(core.today().year, 2014, -1)), tables=core.TABLES)


@bp.get("/ledger/reports.<any(csv, xlsx):fmt>")
@allow(*READERS)
def report_download(fmt):
    """The report's tables as XLSX (every table) or CSV (``table=months|districts|stations``)."""
    year, district = _report_args()
    report, summary = _report(year, district)
    stations = core.station_table(get_db(), start=date(year, 1, 1), end=date(year, 12, 31),
                                  district=district or None, scope=g.scope)
    tables = core.report_tables(report, stations, summary)
    name = f"yizhan-ledger-{year}{'-' + district if district else ''}"
    ascii_name = f"yizhan-ledger-{year}"  # the district, in Chinese, only in filename*
    if fmt == "xlsx":
        body = core.report_xlsx(tables, summary, report["period"])
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        table = request.args.get("table", "months")
        if table not in core.TABLES:
            abort(400)
        body, content_type = core.report_csv(tables, table), "text/csv; charset=utf-8"
        name, ascii_name = f"{name}-{table}", f"{ascii_name}-{table}"
    return current_app.response_class(body, content_type=content_type, headers={  # charset once
        "Content-Disposition": f"attachment; filename={ascii_name}.{fmt}; "
                               f"filename*=UTF-8''{quote(name)}.{fmt}",
        "Cache-Control": "no-store"})  # a union's own figures stay off shared caches


# --- consistency flags (shown in the organisers' queue /admin/flags) -----------------

def flag_context() -> dict:
    """What /admin/flags shows of the ledger: the flags, the figures and the thresholds,
    and meetings recorded with confirmed counts above the usual size."""
    t = thresholds()
    return {"ledger_flags": core.consistency_flags(get_db(), t, scope=g.scope), "ledger_rules": t.describe(),
            "ledger_flag_kinds": core.FLAG_KINDS, "large_meetings": core.large_meetings(get_db(), scope=g.scope),
            "meeting_kinds": core.MEETING_KINDS, "meeting_limits": core.MEETING_LIMITS,
            "meeting_counts": core.MEETING_COUNTS}


@bp.post("/ledger/meetings/<int:meeting_id>/checked")
@allow("admin")
def check_meeting(meeting_id):
    """An organiser has checked a meeting's large counts: it leaves the flags page."""
    try:
        meeting = core.check_large_meeting(get_db(), meeting_id, username=g.user["username"], scope=g.scope)
    except core.LedgerError as exc:
        abort(exc.status)
    flash(f"已核实 {meeting['date']} {meeting['district']} 的{core.MEETING_KINDS[meeting['kind']]}。")
    return redirect(url_for("admin.flags") + "#large-meetings")


@bp.post("/ledger/flags/<int:station_id>/quiet")
@allow("admin")
def quiet_flag(station_id):
    """An organiser has checked a ledger flag: quiet it for one window."""
    kind = request.form.get("kind", "")
    if kind not in core.FLAG_KINDS:
        abort(400)
    try:
        station = get_station(get_db(), station_id)
    except StationNotFound:
        abort(404)
    if not in_scope(get_db(), g.scope, station.get("host_union_id")):
        abort(403)
    try:
        until = core.quiet_flag(get_db(), station_id, kind, username=g.user["username"],
                                note=request.form.get("note", ""), thresholds=thresholds())
    except core.LedgerError as exc:
        return render_template("error.html", code=400, message=exc.message), 400
    flash(f"已记为核实（{core.FLAG_KINDS[kind]}），{until} 前不再提示。")
    return redirect(url_for("admin.flags") + "#ledger-flags")


# --- riders' check-in ----------------------------------------------------------------

def _station_page(station, checkin_error: str) -> str:
    """The station page with why the check-in was not counted where the button would be."""
    return render_template("directory/detail.html", **station_page(
        get_db(), station, tencent_referer=current_app.config["YIZHAN_TENCENT_REFERER"]),
                           errors={}, form=MultiDict(), checkin_error=checkin_error)


@bp.post("/stations/<int:station_id>/checkin")
@allow(PUBLIC)
def checkin(station_id):
    """A rider's one tap "我在这里歇脚了" (no account; rate-limited; no address stored)."""
    try:
        station = get_public_station(get_db(), station_id)
    except StationNotFound:
        abort(404)
    try:
        result = core.check_in(get_db(), station_id, client=client_id(), limits=checkin_limits())
    except RateLimited as exc:
        return _station_page(station, checkin_refusal(exc)), 429, {"Retry-After": str(exc.retry_after)}
    except core.LedgerError as exc:
        if exc.status != 409:
            abort(exc.status)
        return _station_page(station, exc.message), 409  # a closed station: no button, yet posted
    flash(f"已记下，谢谢！今天您是第 {result['count']} 位在这里歇脚的。", "checkin")
    return redirect(url_for("directory.detail", station_id=station_id) + "#checkin")
