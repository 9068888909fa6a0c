"""The planner's pages: /plan (figures, chart, map, gaps, suggestions, criticality, what-if),
its downloads, demand layers, and ``GET /api/v1/coverage``."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

from flask import (Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template,
                   request, url_for)

from ..coverage import demand as demand_layers
from ..coverage.candidates import candidates_dir, load_candidates, read_candidates, save_candidates
from ..coverage.gaps import GAP_COLUMNS, gap_hexagons, gaps_geojson
from ..coverage.grid import CoverageError
from ..coverage.planner import (figures_answer, figures_csv, parse_params, parse_whatif, region_districts,
                                rows_csv, run, whatif)
from ..coverage.suggest import SUGGESTION_COLUMNS, suggest_sites, suggestions_geojson
from .access import allow
from .db import get_db

bp = Blueprint("plan", __name__)
PLANNERS = ("planner", "admin")
CRITICALITY_COLUMNS = ["station_id", "name", "district", "demand_only", "share"]


def _region():
    return current_app.config["YIZHAN_REGION"]


def _int_arg(name, default, low, high):
    raw = request.args.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CoverageError(name, f"{name}“{raw}”不是整数") from None
    if not low <= value <= high:
        raise CoverageError(name, f"{name} = {value} 超出范围 {low}–{high}")
    return value


def _work(params, coverage):
    """Gaps and suggestions for the page, the map and the downloads (same arguments)."""
    resolution = _int_arg("resolution", 8, 5, 10)
    kind = request.args.get("kind") or "uncovered"
    gaps = gap_hexagons(coverage, resolution, kind=kind, limit=_int_arg("gap_limit", 100, 1, 2000))
    p = _int_arg("p", 10, 0, 500)
    try:
        spacing = float(request.args.get("spacing_m") or 1000)
    except ValueError:
        raise CoverageError("spacing_m", "候选点间距应为数字") from None
    points = names = None
    if request.args.get("candidates"):  # an uploaded set (else a grid of spacing_m)
        chosen = _candidates()
        points, names = (chosen["lons"], chosen["lats"]), chosen["names"]
    suggestions = suggest_sites(coverage, p, double=request.args.get("double") == "1", spacing_m=spacing,
                                candidates=points, names=names)["sites"] if p else []
    return gaps, suggestions


def _candidates():
    return load_candidates(candidates_dir(current_app.config["YIZHAN_DB"]), request.args.get("candidates"))


@bp.get("/plan")
@allow(*PLANNERS)
def index():
    """The planner page: the form, and for a submitted form every table and the map."""
    db = get_db()
    context = {"districts": region_districts(_region()), "layers": demand_layers.list_layers(db),
               "args": request.args, "selected": request.args.getlist("district"),
               "current_query": request.query_string.decode()}
    try:
        context["candidate_set"] = _candidates() if request.args.get("candidates") else None
    except CoverageError as exc:
        context["candidate_set"], context["error"] = None, exc
    if request.args.get("run") and "error" not in context:
        try:
            params = parse_params(request.args)
            coverage = run(db, params, _region())
            gaps, suggestions = _work(params, coverage)
            close, add = parse_whatif(request.args)
            context.update(answer=figures_answer(db, params, _region(), coverage), gaps=gaps,
                           suggestions=suggestions, criticality=coverage.criticality(50),
                           whatif=whatif(db, params, _region(), close, add, coverage) if close or add else None,
                           query=request.query_string.decode())
        except CoverageError as exc:
            context["error"] = exc
    return render_template("plan/index.html", **context)


@bp.get("/plan/map")
@allow(*PLANNERS)
def plan_map():
    """The coverage map alone (the page shows it in a frame)."""
    from ..coverage.maps import plan_map_html

    db = get_db()
    try:
        params = parse_params(request.args)
        coverage = run(db, params, _region(), distances=False)
        gaps, suggestions = _work(params, coverage)
    except CoverageError as exc:
        return render_template("error.html", code=400, message=f"参数 {exc.parameter}：{exc.message}"), 400
    tiles = request.args.get("tiles") or current_app.config["YIZHAN_TILES"]
    html = plan_map_html(coverage, tiles="amap" if tiles == "amap" else "osm", gaps=gaps,
                         suggestions=suggestions, demand_label=params.demand,
                         static_url=url_for("static", filename="vendor/"),
                         api_url=url_for("api.stations") + "/", viewport=_region() == "china")
    return Response(html, mimetype="text/html")


@bp.get("/plan/<table>.<fmt>")
@allow(*PLANNERS)
def download(table, fmt):
    """Every table of the page as CSV (gaps and suggestions also as GeoJSON)."""
    db = get_db()
    try:
        params = parse_params(request.args)
        coverage = run(db, params, _region(), distances=table == "figures")
        if table == "figures" and fmt == "csv":
            body = figures_csv(figures_answer(db, params, _region(), coverage))
        elif table == "gaps" and fmt in ("csv", "geojson"):
            rows, _ = _work(params, coverage)
            body = rows_csv(rows, GAP_COLUMNS) if fmt == "csv" else json.dumps(
                gaps_geojson(rows), ensure_ascii=False)
        elif table == "suggestions" and fmt in ("csv", "geojson"):
            rows = _work(params, coverage)[1]
            body = rows_csv(rows, SUGGESTION_COLUMNS) if fmt == "csv" else json.dumps(
                suggestions_geojson(rows, params.as_dict()), ensure_ascii=False)
        elif table == "criticality" and fmt == "csv":
            body = rows_csv(coverage.criticality(10_000), CRITICALITY_COLUMNS)
        else:
            return render_template("error.html", code=404, message="找不到该页面。"), 404
    except CoverageError as exc:
        return render_template("error.html", code=400, message=f"参数 {exc.parameter}：{exc.message}"), 400
    mimetype = "text/csv" if fmt == "csv" else "application/geo+json"
    data = ("\ufeff" + body) if fmt == "csv" else body  # the BOM lets Excel read UTF-8 Chinese
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=coverage-{table}.{fmt}"})


@bp.post("/plan/demand")
@allow(*PLANNERS)
def demand_upload():
    """Upload a demand layer (all or nothing)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要上传的文件。")
        return redirect(url_for("plan.index"))
    try:
        report = demand_layers.import_layer(get_db(), request.form.get("name", ""), upload.read(),
                                            upload.filename, datum=request.form.get("datum") or "wgs84",
                                            region=_region(), username=g.user["username"])
    except CoverageError as exc:
        flash(f"未导入：{exc.message}")
        return redirect(url_for("plan.index"))
    return render_template("plan/demand_report.html", report=report,
                           text=demand_layers.format_layer_report(report, request.form.get("name", "")))


@bp.post("/plan/candidates")
@allow(*PLANNERS)
def candidates_upload():
    """Upload candidate sites for the suggestions; back to the page with every setting kept."""
    kept = _kept_query(request.form.get("query", ""))
    upload = request.files.get("file")
    back = url_for("plan.index") + ("?" + urlencode(kept) if kept else "")
    if upload is None or not upload.filename:
        flash("请选择候选点文件。")
        return redirect(back)
    report = read_candidates(upload.read(), upload.filename, datum=request.form.get("datum") or "wgs84",
                             region=_region())
    if not report.ok:
        return render_template("plan/candidates_report.html", back=back,
                               text=demand_layers.format_layer_report(report)), 400
    key = save_candidates(candidates_dir(current_app.config["YIZHAN_DB"]), report)
    flash(f"已读入候选点文件“{upload.filename}”：{len(report.lons)} 个候选点；建议新站点将从中选取。")
    kept = [(k, v) for k, v in kept if k not in ("candidates", "run")] + [("candidates", key), ("run", "1")]
    return redirect(url_for("plan.index") + "?" + urlencode(kept))


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
        return jsonify(figures_answer(get_db(), params, _region()))
    except CoverageError as exc:
        return jsonify(error={"status": 400, "parameter": exc.parameter, "message": exc.message}), 400
