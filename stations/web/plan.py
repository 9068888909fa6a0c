"""The planner's pages: /plan (figures, chart, map, gaps, suggestions, criticality, what-if),
its downloads, demand layers, and ``GET /api/v1/coverage``."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

from flask import (Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template,
                   request, url_for)
from werkzeug.datastructures import MultiDict

from ..coverage import demand as demand_layers
from ..coverage.candidates import candidates_dir, load_candidates
from ..coverage.downloads import FORMATS, download_datum, file_name, table_file
from ..coverage.grid import CoverageError
from ..coverage.jobs import (AlreadyQueued, estimated_cells, gaps_and_suggestions, gaps_for, job_map_path,
                             job_request, job_result, job_status, plan_results, start_plan_job, suggestions_for)
from ..coverage.scenarios import list_scenarios
from ..coverage.uploads import start_candidates_upload, start_demand_upload, start_network_upload
from ..networks import delete_network, list_networks, networks_dir
from ..coverage.planner import criticality_rows, figures_answer, parse_params, region_districts, run
from .access import allow
from .db import get_db

bp = Blueprint("plan", __name__)
PLANNERS = ("planner", "admin")
MIMETYPES = {"csv": "text/csv", "geojson": "application/geo+json",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _region():
    return current_app.config["YIZHAN_REGION"]


def _candidates_folder():
    return candidates_dir(current_app.config["YIZHAN_DB"])


def _map_options():
    tiles = request.args.get("tiles") or current_app.config["YIZHAN_TILES"]
    return {"tiles": "amap" if tiles == "amap" else "osm", "static_url": url_for("static", filename="vendor/"),
            "api_url": url_for("api.stations") + "/"}


def _long(params) -> bool:
    """Work on a grid this large runs in the background, with its stages on the page."""
    limit = int(current_app.config["YIZHAN_PLAN_BACKGROUND_CELLS"])
    return estimated_cells(_region(), params.districts, params.cell_m) > limit


def _off_the_loop(work, *args):
    """Run a grid computation (CPU for seconds: a scipy distance transform does not yield)
    in a native thread when served by gevent workers, so the worker's other requests keep
    answering meanwhile (the thread gives up the GIL every few ms); a plain call otherwise.
    ``work`` must not touch Flask's request or app context (pass copies of what it needs)."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return work(*args)
    if not monkey.is_module_patched("threading"):
        return work(*args)  # tests, the CLI, a threaded server: nothing to protect

    def caught():  # the pool would print every exception as a crash: a bad parameter is not one
        try:
            return True, work(*args)
        except Exception as exc:  # noqa: BLE001 - raised again below, in the request
            return False, exc

    done, value = get_hub().threadpool.apply(caught)
    if not done:
        raise value
    return value


def _at_once() -> int:
    return max(1, int(current_app.config["YIZHAN_PLAN_JOBS_AT_ONCE"]))


def _page_context(args, **extra) -> dict:
    """What the planner page needs around its results, for these settings."""
    context = {"districts": region_districts(_region()), "layers": demand_layers.list_layers(get_db()),
               "networks": _networks(), "network_form": {}, "args": args, "selected": args.getlist("district"),
               "current_query": urlencode(list(args.items(multi=True))), "demand_form": {},
               "scenarios": list_scenarios(get_db(), g.user["username"])}
    try:
        context["candidate_set"] = load_candidates(_candidates_folder(), args.get("candidates")) \
            if args.get("candidates") else None
    except CoverageError as exc:
        context["candidate_set"], context["error"] = None, exc
    context.update(extra)
    return context


def _networks() -> list:
    return list_networks(networks_dir(current_app.config["YIZHAN_DB"]))


def _plan_error(args, exc):
    """A download or the map refused: the error page says why and leads back to the form
    with every setting as it was."""
    back = url_for("plan.index") + "?" + urlencode([(k, v) for k, v in args.items(multi=True) if k != "run"])
    return render_template("plan/error.html", message=exc.text, back=back), 400


def _refused_page(args, status: int, **extra):
    """The planner page again, saying why (a busy user's link to their job, a bad name)."""
    return render_template("plan/index.html", **_page_context(args, **extra)), status


@bp.get("/plan")
@allow(*PLANNERS)
def index():
    """The planner page: the form, and for a submitted form every table and the map."""
    context = _page_context(request.args, current_query=request.query_string.decode())
    if request.args.get("run") and "error" not in context:
        try:
            if _long(parse_params(request.args)):
                key = start_plan_job(current_app.config["YIZHAN_DB"], list(request.args.items(multi=True)),
                                     _region(), _map_options(), username=g.user["username"], at_once=_at_once())
                return redirect(url_for("plan.job", key=key), 303)
            context.update(_off_the_loop(lambda args, region, folder: plan_results(
                get_db(), args, region, candidates_folder=folder), request.args.copy(), _region(),
                _candidates_folder()), query=request.query_string.decode())
        except AlreadyQueued as busy:
            return _refused_page(request.args, 409, busy=busy.key)
        except CoverageError as exc:
            context["error"] = exc
    return render_template("plan/index.html", **context)


@bp.get("/plan/jobs/<key>")
@allow(*PLANNERS)
def job(key):
    """Background work: its place in the queue and its stages, then its outcome."""
    db_path = current_app.config["YIZHAN_DB"]
    status = job_status(db_path, key)
    if status is None:
        return render_template("error.html", code=404, message="没有这项计算（计算结果保留一天），请重新计算。"), 404
    result = job_result(db_path, key) if status["finished"] else None
    if status["kind"] != "plan" and status["finished"]:
        return _upload_outcome(status, result, job_request(db_path, key) or {})
    if result is None or status["state"] != "done":
        return render_template("plan/job.html", status=status, key=key, back=_back(job_request(db_path, key)))
    args = MultiDict(result.pop("args"))
    try:
        candidate_set = load_candidates(_candidates_folder(), args.get("candidates")) if args.get("candidates") \
            else None
    except CoverageError:
        candidate_set = None  # expired since: the results still name their candidates
    return render_template("plan/index.html", districts=region_districts(_region()),
                           layers=demand_layers.list_layers(get_db()), networks=_networks(), network_form={},
                           args=args, selected=args.getlist("district"),
                           current_query=urlencode(list(args.items(multi=True))), candidate_set=candidate_set,
                           query=urlencode(list(args.items(multi=True))), job_key=key, job_seconds=status.get("seconds"),
                           demand_form={}, scenarios=list_scenarios(get_db(), g.user["username"]),
                           **{k: v for k, v in result.items() if k not in ("criticality_all", "gaps_all", "kind")})


def _back(asked) -> str:
    """The planner page with the settings a job was asked with (a computation's own
    arguments, an upload's page settings)."""
    asked = asked or {}
    pairs = [tuple(p) for p in (asked.get("args") if asked.get("kind", "plan") == "plan" else asked.get("query")) or []]
    pairs = [(k, v) for k, v in pairs if k != "run"]
    return url_for("plan.index") + ("?" + urlencode(pairs) if pairs else "")


def _upload_outcome(status, result, asked):
    """A finished upload: the layer stored or the report with its bad rows (the name kept
    for another try); candidates read go back to the page with the settings they came with."""
    result = result or {"ok": False, "text": status.get("message", ""), "message": status.get("message")}
    if status["kind"] == "network":
        if result["ok"]:
            flash(result["text"])
            return redirect(url_for("plan.index", network=result["name"]) + "#networks")
        return render_template("plan/network_report.html", text=result["text"],
                               network_form={"name": asked.get("name", "")}), 400
    if status["kind"] == "demand":
        form = {"name": asked.get("name", ""), "datum": asked.get("datum", "wgs84")}
        kept = [tuple(pair) for pair in asked.get("query", [])]
        return render_template("plan/demand_report.html", ok=result["ok"], text=result["text"], demand_form=form,
                               back=_back(asked), current_query=urlencode(kept)), 200 if result["ok"] else 400
    kept = [tuple(pair) for pair in asked.get("query", [])]
    back = url_for("plan.index") + ("?" + urlencode(kept) if kept else "")
    if not result["ok"]:
        return render_template("plan/candidates_report.html", back=back, text=result["text"]), 400
    flash(f"已读入候选点文件“{result['filename']}”：{result['count']} 个候选点；建议新站点将从中选取。")
    return redirect(_with_candidates(kept, result["candidates"]))


def _with_candidates(kept, key) -> str:
    kept = [(k, v) for k, v in kept if k not in ("candidates", "run")] + [("candidates", key), ("run", "1")]
    return url_for("plan.index") + "?" + urlencode(kept)


@bp.get("/plan/jobs/<key>.json")
@allow(*PLANNERS)
def job_json(key):
    """A job's state, place in the queue and stage, for the page's progress."""
    db_path = current_app.config["YIZHAN_DB"]
    status = job_status(db_path, key)
    if status is None:
        return jsonify(error={"status": 404, "message": "没有这项计算"}), 404
    answer = {k: status.get(k) for k in ("state", "kind", "stage", "stage_name", "step", "steps", "stages",
                                         "finished", "message", "seconds", "ahead", "at_once")}
    result = job_result(db_path, key) if status["finished"] and status["kind"] != "plan" else None
    if status["kind"] != "plan" and status["finished"]:
        answer["ok"] = bool(result and result.get("ok"))
    return jsonify(answer)


@bp.get("/plan/jobs/<key>/map")
@allow(*PLANNERS)
def job_map(key):
    """A finished job's coverage map."""
    path = job_map_path(current_app.config["YIZHAN_DB"], key)
    if path is None:
        return render_template("error.html", code=404, message="地图已过期，请重新计算。"), 404
    return Response(path.read_text(encoding="utf-8"), mimetype="text/html")


@bp.get("/plan/jobs/<key>/<table>.<fmt>")
@allow(*PLANNERS)
def job_download(key, table, fmt):
    """A finished job's tables, as the page's downloads."""
    result = job_result(current_app.config["YIZHAN_DB"], key)
    if result is None or result["kind"] != "plan":
        return render_template("error.html", code=404, message="计算结果已过期，请重新计算。"), 404
    args = MultiDict(result["args"])
    args.setlist("datum", request.args.getlist("datum") or args.getlist("datum"))
    rows = {"gaps": result.get("gaps_all", result["gaps"]), "suggestions": result["suggestions"],
            "criticality": result["criticality_all"], "figures": _figure_rows(result["answer"])}
    unit = "（km²）" if result["answer"]["params"]["demand_unit"] == "km²" else "（权重）"
    try:
        return _download(table, fmt, rows, unit, args)
    except CoverageError as exc:
        return _plan_error(args, exc)


def _figure_rows(answer) -> list:
    return answer["districts"] + [{"district": "全部", **answer["overall"]}]


def _download(table, fmt, rows, unit, args):
    """The table as a file named by its scenario (RFC 5987 ``filename*`` for the Chinese
    name, an ASCII ``filename`` for old clients); 404 for no such table."""
    if fmt not in FORMATS.get(table, ()):
        return render_template("error.html", code=404, message="找不到该页面。"), 404
    params = {**parse_params(args).as_dict(), "datum": download_datum(args)}
    body = table_file(table, fmt, rows[table], unit=unit, datum=params["datum"], params=parse_params(args).as_dict())
    name = file_name(table, fmt, params)
    disposition = f"attachment; filename=coverage-{table}.{fmt}; filename*=UTF-8''{quote(name, safe='')}"
    return Response(body, mimetype=MIMETYPES[fmt], headers={"Content-Disposition": disposition})


@bp.get("/plan/map")
@allow(*PLANNERS)
def plan_map():
    """The coverage map alone (the page shows it in a frame)."""
    from ..coverage.maps import plan_map_html

    db, options, region = get_db(), _map_options(), _region()

    def work(args, folder):
        params = parse_params(args)
        coverage = run(db, params, region, distances=False)
        gaps, suggestions = gaps_and_suggestions(args, coverage, folder, db)
        return plan_map_html(coverage, tiles=options["tiles"], gaps=gaps, suggestions=suggestions,
                             demand_label=params.demand, static_url=options["static_url"],
                             api_url=options["api_url"], viewport=region == "china")

    try:
        html = _off_the_loop(work, request.args.copy(), _candidates_folder())
    except CoverageError as exc:
        return _plan_error(request.args, exc)
    return Response(html, mimetype="text/html")


@bp.get("/plan/<table>.<fmt>")
@allow(*PLANNERS)
def download(table, fmt):
    """Every table of the page as CSV or XLSX (gaps and suggestions also as GeoJSON)."""
    db, region = get_db(), _region()
    if fmt not in FORMATS.get(table, ()):
        return render_template("error.html", code=404, message="找不到该页面。"), 404

    def work(args, folder):
        params = parse_params(args)
        coverage = run(db, params, region, distances=table == "figures")
        rows = {}
        if table == "gaps":
            rows["gaps"] = gaps_for(args, coverage, every=True)
        elif table == "suggestions":
            rows["suggestions"] = suggestions_for(args, coverage, folder, db)
        elif table == "criticality":
            rows["criticality"] = criticality_rows(coverage, region, 10_000)
        else:
            rows["figures"] = _figure_rows(figures_answer(db, params, region, coverage))
        return rows, "（km²）" if coverage.uniform else "（权重）"

    try:
        download_datum(request.args)
        rows, unit = _off_the_loop(work, request.args.copy(), _candidates_folder())
        return _download(table, fmt, rows, unit, request.args)
    except CoverageError as exc:
        return _plan_error(request.args, exc)


@bp.post("/plan/demand")
@allow(*PLANNERS)
def demand_upload():
    """Upload a demand layer: saved and read in a background job (all or nothing)."""
    upload, name = request.files.get("file"), request.form.get("name", "")
    kept = _kept_query(request.form.get("query", ""))
    if upload is None or not upload.filename:
        flash("请选择要上传的文件。")
        return redirect(url_for("plan.index") + ("?" + urlencode(kept) if kept else ""))
    datum = request.form.get("datum") or "wgs84"
    form = {"name": name, "datum": datum}
    try:
        key = start_demand_upload(get_db(), current_app.config["YIZHAN_DB"], name, upload.save, upload.filename,
                                  datum=datum, region=_region(), username=g.user["username"], at_once=_at_once(),
                                  query=kept)
    except CoverageError as exc:
        return _refused_page(MultiDict(kept), 400, demand_form=form, demand_error=exc.text)
    except AlreadyQueued as busy:
        return _refused_page(MultiDict(kept), 409, demand_form=form, busy=busy.key)
    return redirect(url_for("plan.job", key=key), 303)


@bp.post("/plan/networks")
@allow(*PLANNERS)
def network_upload():
    """Upload an OpenStreetMap extract: saved, then built into a street network in a background job."""
    upload, name = request.files.get("file"), request.form.get("name", "")
    if upload is None or not upload.filename:
        flash("请选择要上传的 .osm.pbf 文件。")
        return redirect(url_for("plan.index") + "#networks")
    form = {"name": name}
    try:
        key = start_network_upload(current_app.config["YIZHAN_DB"], name, upload.save, upload.filename,
                                   username=g.user["username"], at_once=_at_once())
    except CoverageError as exc:
        return _refused_page(MultiDict(), 400, network_form=form, network_error=exc.message)
    except AlreadyQueued as busy:
        return _refused_page(MultiDict(), 409, network_form=form, busy=busy.key)
    return redirect(url_for("plan.job", key=key), 303)


@bp.post("/plan/networks/delete")
@allow(*PLANNERS)
def network_delete():
    """Delete a street network."""
    name = request.form.get("name", "")
    if delete_network(networks_dir(current_app.config["YIZHAN_DB"]), name):
        flash(f"已删除道路网络“{name}”。")
    else:
        flash(f"没有名为“{name}”的道路网络。")
    return redirect(url_for("plan.index") + "#networks")


@bp.post("/plan/candidates")
@allow(*PLANNERS)
def candidates_upload():
    """Upload candidate sites for the suggestions: read in a background job, then back to
    the page with every setting kept."""
    kept = _kept_query(request.form.get("query", ""))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择候选点文件。")
        return redirect(url_for("plan.index") + ("?" + urlencode(kept) if kept else ""))
    try:
        key = start_candidates_upload(current_app.config["YIZHAN_DB"], upload.save, upload.filename,
                                      datum=request.form.get("datum") or "wgs84", region=_region(), query=kept,
                                      username=g.user["username"], at_once=_at_once())
    except AlreadyQueued as busy:
        return _refused_page(MultiDict(kept), 409, busy=busy.key)
    return redirect(url_for("plan.job", key=key), 303)


def _kept_query(raw: str) -> list:
    """The page's settings handed back by the upload form (a query string), bounded."""
    return parse_qsl(raw[:8000], keep_blank_values=True)[:200]


@bp.post("/plan/demand/delete")
@allow(*PLANNERS)
def demand_delete():
    """Delete a demand layer."""
    name = request.form.get("name", "")
    if demand_layers.delete_layer(get_db(), name):
        flash(f"已删除需求图层“{name}”。")
    else:
        flash(f"没有名为“{name}”的需求图层。")
    return redirect(url_for("plan.index"))


@bp.get("/api/v1/coverage")
@allow(*PLANNERS)
def api_coverage():
    """Coverage figures per district and overall, as JSON (planner or admin)."""
    try:
        params = parse_params(request.args)
        return jsonify(_off_the_loop(figures_answer, get_db(), params, _region()))
    except CoverageError as exc:
        return jsonify(error={"status": 400, "parameter": exc.parameter, "message": exc.message}), 400
