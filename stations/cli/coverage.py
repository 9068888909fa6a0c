"""Planner commands: ``yizhan coverage``, ``gaps``, ``suggest`` and ``demand import|list|delete``.

They print the same figures as ``GET /api/v1/coverage`` (``--json`` gives the very
same document); progress goes to stderr so stdout stays clean for files.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import storage
from ..coverage import demand as demand_layers
from ..coverage.gaps import GAP_COLUMNS, gap_hexagons, gaps_geojson
from ..coverage.grid import CoverageError
from ..coverage.planner import figures_answer, parse_params, rows_csv, run
from ..coverage.jobs import tie_layer
from ..coverage.suggest import SUGGESTION_COLUMNS, suggest_sites, suggestions_geojson

__all__ = ["COMMANDS"]


def _db():
    db = storage.connect(current_app.config["YIZHAN_DB"])
    storage.migrate(db)
    return db


def circle_options(fn):
    """The options every planner command shares (the service circle and the area)."""
    options = [
        click.option("--minutes", type=float, default=15.0, show_default=True, help="Minutes of travel."),
        click.option("--mode", type=click.Choice(["walk", "ebike"]), default="walk", show_default=True,
                     help="walk 5 km/h or ebike 15 km/h."),
        click.option("--speed", "speed_kmh", type=float, default=None, help="Speed in km/h (overrides --mode)."),
        click.option("--detour", type=float, default=1.3, show_default=True,
                     help="Street distance ÷ straight-line distance."),
        click.option("--district", "districts", multiple=True, help="A district (repeat for several); all if none."),
        click.option("--demand", default="", help="Name of an uploaded demand layer (uniform if none)."),
        click.option("--cell-m", type=float, default=100.0, show_default=True, help="Grid cell size in metres."),
        click.option("--at", default="", help="Count only stations open at this time (2026-11-24T20:00)."),
        click.option("--only-24h", is_flag=True, help="Count only 24-hour stations."),
        click.option("--network", default="", help="Measure along this street network's streets "
                     "(yizhan network import); circles if none."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _params(kwargs):
    args = {k: kwargs.pop(k) for k in ("minutes", "mode", "speed_kmh", "detour", "demand", "cell_m", "at", "network")}
    args = {k: ("" if v is None else str(v)) for k, v in args.items()}
    args["district"] = list(kwargs.pop("districts"))
    args["only_24h"] = "1" if kwargs.pop("only_24h") else ""
    return parse_params(args)


def _fail(exc: CoverageError):
    raise click.ClickException(f"参数 {exc.parameter}：{exc.message}")


def _guard(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CoverageError as exc:
            _fail(exc)
    return wrapper


def _coverage_with_progress(db, params, label="计算覆盖"):
    region = current_app.config["YIZHAN_REGION"]
    with click.progressbar(length=2, label=label, file=sys.stderr) as bar:
        coverage = run(db, params, region)
        bar.update(2)
    return coverage, region


@click.command("coverage")
@circle_options
@click.option("--json", "as_json", is_flag=True, help="The API's JSON document.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per district and one for all.")
@with_appcontext
@_guard
def coverage_command(as_json, as_csv, **kwargs):
    """Coverage figures per district and overall (the 15-minute circle and its double cover)."""
    params = _params(kwargs)
    db = _db()
    coverage, region = _coverage_with_progress(db, params)
    answer = figures_answer(db, params, region, coverage)
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, indent=1))
    elif as_csv:
        from ..coverage.planner import figures_csv

        click.echo(figures_csv(answer), nl=False)
    else:
        p = answer["params"]
        if p.get("network"):
            click.echo(f"按道路网络“{p['network']}”：{p['minutes']:g} 分钟，{p['mode']} {p['speed_kmh']:g} 公里/小时，"
                       f"沿道路 {p['reach_m']:.0f} 米（含到最近道路的直线距离，最多 300 米）；格子 {p['cell_m']:g} 米；"
                       f"网络范围外的部分不计入（全部范围外 {_fmt(answer['overall'].get('outside_network_share'))}）")
        else:
            click.echo(f"服务圈：{p['minutes']:g} 分钟，{p['mode']} {p['speed_kmh']:g} 公里/小时，"
                       f"绕行系数 {p['detour']:g}，半径 {p['radius_m']:.0f} 米；格子 {p['cell_m']:g} 米")
        click.echo("区\t站点\t面积km²\t覆盖\t双覆盖\t需求覆盖\t需求双覆盖\t平均距离m\tP90距离m")
        for row in answer["districts"] + [{"district": "全部", **answer["overall"]}]:
            click.echo("\t".join(str(row["district"]) if k == "district" else _fmt(row[k])
                                 for k in ("district", "stations", "area_km2", "covered_share",
                                           "double_covered_share", "demand_covered_share",
                                           "demand_double_covered_share", "mean_distance_m",
                                           "p90_distance_m")))


def _fmt(value):
    if value is None:
        return "-"
    return f"{value:.1%}" if isinstance(value, float) and value <= 1 and value != int(value) else f"{value:g}"


@click.command("gaps")
@circle_options
@click.option("--resolution", type=click.IntRange(5, 10), default=8, show_default=True, help="H3 resolution.")
@click.option("--kind", type=click.Choice(["uncovered", "single"]), default="uncovered", show_default=True)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@click.option("--geojson", "as_geojson", is_flag=True, help="Hexagons as a GeoJSON FeatureCollection.")
@with_appcontext
@_guard
def gaps_command(resolution, kind, limit, as_json, as_csv, as_geojson, **kwargs):
    """Hexagons of uncovered (or singly covered) demand, ranked, with their district."""
    params = _params(kwargs)
    coverage, _ = _coverage_with_progress(_db(), params)
    rows = gap_hexagons(coverage, resolution, kind=kind, limit=limit)
    if as_geojson:
        click.echo(json.dumps(gaps_geojson(rows), ensure_ascii=False))
    elif as_json:
        click.echo(json.dumps({"params": params.as_dict(), "gaps": rows}, ensure_ascii=False, indent=1))
    else:
        click.echo(rows_csv(rows, GAP_COLUMNS), nl=False)


@click.command("suggest")
@circle_options
@click.option("-p", "p", type=int, default=10, show_default=True, help="How many new sites.")
@click.option("--candidates", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV/XLSX/GeoJSON of candidate sites (else a grid).")
@click.option("--candidates-datum", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84")
@click.option("--spacing-m", type=float, default=1000.0, show_default=True, help="Grid candidates' spacing.")
@click.option("--double", is_flag=True, help="Aim for double (cross) coverage.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@click.option("--geojson", "as_geojson", is_flag=True, help="Sites as a GeoJSON FeatureCollection of points.")
@with_appcontext
@_guard
def suggest_command(p, candidates, candidates_datum, spacing_m, double, as_json, as_csv, as_geojson, **kwargs):
    """Where p new stations would cover the most uncovered demand (greedy MCLP)."""
    params = _params(kwargs)
    region = current_app.config["YIZHAN_REGION"]
    points = names = None
    if candidates:
        report = demand_layers.read_points(candidates.read_bytes(), candidates.name,
                                           datum=candidates_datum, region=region)
        if not report.ok:
            click.echo(demand_layers.format_layer_report(report), err=True)
            sys.exit(1)
        points, names = (report.lons, report.lats), report.names
    coverage, _ = _coverage_with_progress(_db(), params)
    near, layer = None, tie_layer(_db(), {}, coverage)  # ties as on the page: the newest layer
    if layer:
        tie_points = demand_layers.load_layer_points(_db(), layer)
        near = (tie_points.lons, tie_points.lats)
    with click.progressbar(length=1, label="选址", file=sys.stderr) as bar:
        answer = suggest_sites(coverage, p, candidates=points, names=names, double=double,
                               spacing_m=spacing_m, near=near)
        bar.update(1)
    if as_json:
        click.echo(json.dumps({"params": params.as_dict(), **answer}, ensure_ascii=False, indent=1))
    elif as_geojson:
        click.echo(json.dumps(suggestions_geojson(answer["sites"], params.as_dict()), ensure_ascii=False))
    else:
        click.echo(rows_csv(answer["sites"], SUGGESTION_COLUMNS), nl=False)


@click.group("demand")
def demand_group():
    """Demand layers for coverage (order pick-ups, rider pings, work sites)."""


@demand_group.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--datum", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True)
@click.option("--dry-run", is_flag=True, help="Check and report only.")
@click.option("--user", "username", default="cli", show_default=True)
@with_appcontext
@_guard
def demand_import(name, file, datum, dry_run, username):
    """Import a demand layer NAME from a CSV, XLSX or GeoJSON of weighted points."""
    db = _db()
    report = demand_layers.import_layer(db, name, file.read_bytes(), file.name, datum=datum,
                                        region=current_app.config["YIZHAN_REGION"],
                                        username=username, dry_run=dry_run)
    click.echo(demand_layers.format_layer_report(report, name))
    if not report.ok:
        sys.exit(1)


@demand_group.command("list")
@with_appcontext
def demand_list():
    """List demand layers."""
    for layer in demand_layers.list_layers(_db()):
        click.echo(f"{layer['name']}\t{layer['points']} 个点\t权重合计 {layer['total_weight']:g}\t"
                   f"{layer['created_at']}\t{layer['filename'] or ''}")


@demand_group.command("delete")
@click.argument("name")
@with_appcontext
def demand_delete(name):
    """Delete a demand layer."""
    if not demand_layers.delete_layer(_db(), name):
        raise click.ClickException(f"没有名为“{name}”的需求图层")
    click.echo(f"已删除需求图层“{name}”。")


COMMANDS = (coverage_command, gaps_command, suggest_command, demand_group)
