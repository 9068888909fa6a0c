"""The planner's report pages: a print layout of /plan (title, scenario, map with legend,
scale and north arrow, figures, date, 合成数据 when synthetic; the browser's 打印 /
另存为 PDF makes the PDF), named scenarios saved, and two compared side by side."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ..coverage.grid import CoverageError
from ..coverage.jobs import job_result, plan_results
from ..coverage.planner import figures_answer, parse_params
from ..coverage.scenarios import (ScenarioExists, compare_rows, delete_scenario, describe, get_scenario,
                                  save_scenario)
from ..storage import TZ, registry_summary
from .access import allow
from .db import get_db
from .plan import PLANNERS, _candidates_folder, _long, _off_the_loop, _plan_error, _refused_page, _region

bp = Blueprint("plan_report", __name__)


def _query(args) -> str:
    return urlencode([(k, v) for k, v in args.items(multi=True) if k != "run"])


def _print_context(args, results: dict, map_src: str) -> dict:
    synthetic = registry_summary(get_db())["synthetic"]
    return {"args": args, "title": args.get("title") or "驿站覆盖规划", "scenario": describe(args),
            "map_src": map_src, "synthetic": synthetic, "today": datetime.now(TZ).strftime("%Y-%m-%d %H:%M"),
            "answer": results["answer"], "whatif": results.get("whatif"), "back": url_for("plan.index") + "?" +
            _query(args) + "&run=1", **{k: results.get(k) for k in ("suggestions",)}}


@bp.get("/plan/print")
@allow(*PLANNERS)
def print_page():
    """The page's scenario laid out for print (A4): a browser prints it or saves it as PDF."""
    args = request.args
    try:
        if _long(parse_params(args)):
            flash("网格较大，需在后台计算：算完后在结果页点“打印 / 导出 PDF”。")
            return redirect(url_for("plan.index") + "?" + _query(args) + "&run=1")
        results = _off_the_loop(lambda a, region, folder: plan_results(get_db(), a, region, candidates_folder=folder),
                                args.copy(), _region(), _candidates_folder())
        context = _print_context(args, results, url_for("plan.plan_map") + "?" + _query(args))
    except CoverageError as exc:
        return _plan_error(args, exc)
    return render_template("plan/print.html", **context)


@bp.get("/plan/jobs/<key>/print")
@allow(*PLANNERS)
def job_print(key):
    """A finished background computation laid out for print."""
    result = job_result(current_app.config["YIZHAN_DB"], key)
    if result is None or result["kind"] != "plan":
        return render_template("error.html", code=404, message="计算结果已过期，请重新计算。"), 404
    args = MultiDict(result["args"])
    if request.args.get("title"):
        args["title"] = request.args["title"]
    try:
        context = _print_context(args, result, url_for("plan.job_map", key=key))
    except CoverageError as exc:
        return _plan_error(args, exc)
    return render_template("plan/print.html", **context)


def _owner() -> str:
    return g.user["username"]


def _kept(raw: str) -> list:
    from .plan import _kept_query

    return [(k, v) for k, v in _kept_query(raw) if k != "run"]


@bp.post("/plan/scenarios")
@allow(*PLANNERS)
def scenario_save():
    """Save the page's settings as a named scenario of this planner."""
    kept, name = _kept(request.form.get("query", "")), request.form.get("scenario_name", "")
    try:
        save_scenario(get_db(), _owner(), name, kept)
    except ScenarioExists as exc:
        return _refused_page(MultiDict(kept), 409, scenario_error=f"已有名为“{exc}”的方案：请换个名字，或先删除旧的。",
                             scenario_name=name)
    except CoverageError as exc:
        return _refused_page(MultiDict(kept), 400, scenario_error=exc.text, scenario_name=name)
    flash(f"已保存方案“{' '.join(name.split())}”。")
    return redirect(url_for("plan.index") + "?" + urlencode(kept + [("run", "1")]) + "#scenarios")


@bp.post("/plan/scenarios/<int:scenario_id>/delete")
@allow(*PLANNERS)
def scenario_delete(scenario_id):
    """Delete one of this planner's scenarios."""
    scenario = get_scenario(get_db(), scenario_id, _owner())
    if scenario is None or not delete_scenario(get_db(), scenario_id, _owner()):
        flash("没有这个方案（可能已删除）。")
    else:
        flash(f"已删除方案“{scenario['name']}”。")
    return redirect(url_for("plan.index") + "#scenarios")


@bp.get("/plan/compare")
@allow(*PLANNERS)
def compare():
    """Two saved scenarios side by side: their figures (and the difference) and their maps."""
    db = get_db()
    chosen = [get_scenario(db, request.args.get(side), _owner()) for side in ("a", "b")]
    if None in chosen:
        return render_template("error.html", code=404, message="请选择两个已保存的方案再对比（方案不存在或不是你的）。"), 404
    answers = []
    for scenario in chosen:
        args = MultiDict(scenario["pairs"])
        try:
            params = parse_params(args)
            if _long(params):
                raise CoverageError("cell_m", f"方案“{scenario['name']}”的网格太大，不能直接对比：请加大格子边长或少选几个区")
            answers.append(_off_the_loop(figures_answer, db, params, _region()))
        except CoverageError as exc:
            return _plan_error(args, exc)
        scenario.update(description=describe(args), query=urlencode(scenario["pairs"]))
    return render_template("plan/compare.html", a=chosen[0], b=chosen[1], rows=compare_rows(*answers))
