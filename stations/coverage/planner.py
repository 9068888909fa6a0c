"""What the CLI, the API and the /plan page share: parameters, stations, answers.

``parse_params`` reads a planner's request (a form, a query string or CLI options
as a mapping of strings) into :class:`PlanParams`, raising CoverageError that
names the bad parameter.  ``station_set`` gives the stations that count, cached by
the registry's data version; ``run`` evaluates coverage for the parameters.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..registry.exporter import defuse_cell
from ..hours import HoursError, parse_hours
from ..storage import TZ, data_version, station_points
from .figures import FIGURE_KEYS, StationSet, evaluate
from .grid import MODES, Circle, CoverageError, area_for

__all__ = ["PlanParams", "parse_params", "region_districts", "station_set", "street_graph", "run", "figures_answer", "figures_csv",
           "rows_csv", "criticality_rows", "OUTSIDE"]

OUTSIDE = "（所选区以外）"


@dataclass
class PlanParams:
    circle: Circle = field(default_factory=Circle)
    districts: tuple = ()
    demand: str = ""
    cell_m: float = 100.0
    at: datetime | None = None     # count only stations open at this time
    only_24h: bool = False
    network: str = ""              # measure along this street network's streets (issue 19)

    def as_dict(self) -> dict:
        out = {**self.circle.as_dict(), "districts": list(self.districts), "demand": self.demand or None,
               "cell_m": self.cell_m, "at": self.at.isoformat(timespec="minutes") if self.at else None,
               "only_24h": self.only_24h}
        if self.network:
            out.update(network=self.network, reach_m=round(self.circle.minutes / 60 * self.circle.speed * 1000, 1))
        return out


def _number(args, name, default, label):
    raw = args.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise CoverageError(name, f"{label}“{raw}”不是数字") from None
    if not math.isfinite(value):
        raise CoverageError(name, f"{label}“{raw}”不是有限的数字")
    return value


def _districts(args):
    if hasattr(args, "getlist"):
        values = args.getlist("district")
    else:
        values = args.get("district") or []
        values = [values] if isinstance(values, str) else list(values)
    out = []
    for value in values:
        out += [v.strip() for v in str(value).replace("，", ",").split(",") if v.strip()]
    return tuple(dict.fromkeys(out))


def parse_params(args) -> PlanParams:
    """Read minutes, mode, detour, speed_kmh, district (repeatable or comma-separated),
    demand, cell_m, at (ISO time), only_24h and network from a mapping of strings."""
    mode = str(args.get("mode") or "walk").strip().lower()
    if mode not in MODES:
        raise CoverageError("mode", f"出行方式“{mode}”无效：应为 walk（步行）或 ebike（电动自行车）")
    speed = _number(args, "speed_kmh", None, "速度")
    circle = Circle(minutes=_number(args, "minutes", 15.0, "分钟数"), mode=mode,
                    detour=_number(args, "detour", 1.3, "绕行系数"), speed_kmh=speed)
    cell_m = _number(args, "cell_m", 100.0, "格子边长")
    if not 20 <= cell_m <= 5000:
        raise CoverageError("cell_m", f"格子边长 {cell_m:g} 米超出范围 20–5000 米")
    at = None
    raw_at = str(args.get("at") or "").strip()
    if raw_at:
        try:
            at = datetime.fromisoformat(raw_at.replace(" ", "T"))
        except ValueError:
            raise CoverageError("at", f"时间“{raw_at}”无效：应写作 2026-11-24T20:00") from None
        at = at if at.tzinfo else at.replace(tzinfo=TZ)
    only_24h = str(args.get("only_24h") or "").strip().lower() in ("1", "true", "yes", "on", "是")
    demand = str(args.get("demand") or "").strip()
    network = str(args.get("network") or "").strip()
    return PlanParams(circle, _districts(args), demand, cell_m, at, only_24h, network)


def region_districts(region: str = "beijing") -> list[str]:
    """The names of the region's districts (the polygons coverage is measured on)."""
    from geodata.districts import load_districts

    return list(load_districts(region)["name"])


# --- stations -------------------------------------------------------------------------

_CACHE: dict = {}
_LOCK = threading.Lock()


def _all_stations(db):
    """(StationSet of active stations, their hours texts), cached by data version."""
    version = data_version(db)
    # per database file (tests open many), checked against the data version
    key = db.execute("PRAGMA database_list").fetchone()[2] or id(db.conn)
    cached = _CACHE.get(key)
    if cached and cached[0] == version:
        return cached[1]
    rows = station_points(db, statuses=["active"])
    hours = dict(db.execute("SELECT id, hours FROM stations WHERE status = 'active'").fetchall())
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    stations = StationSet(ids, np.fromiter((r[2] for r in rows), float, len(rows)),
                          np.fromiter((r[3] for r in rows), float, len(rows)), [r[1] for r in rows])
    texts = np.array([hours.get(int(i)) or "" for i in ids], dtype=object)
    with _LOCK:
        _CACHE[key] = (version, (stations, texts))
    return stations, texts


def station_set(db, *, at: datetime | None = None, only_24h: bool = False) -> StationSet:
    """Active stations; with ``at``, only those open then; with ``only_24h``, only 24-hour ones.

    Each distinct timetable text is parsed and asked once (stations share a few
    hundred), then mapped back to the stations as an array.
    """
    stations, texts = _all_stations(db)
    if at is None and not only_24h or not len(stations):
        return stations
    unique, inverse = np.unique(texts.astype(str), return_inverse=True)
    ok = np.zeros(len(unique), dtype=bool)
    for k, text in enumerate(unique):
        if not text:
            continue  # unknown hours: not counted as open at a given time
        try:
            hours = parse_hours(text)
        except HoursError:
            continue
        ok[k] = (not only_24h or hours.is_24h) and (at is None or hours.is_open(at))
    return stations.select(ok[inverse])


# --- answers --------------------------------------------------------------------------

def _demand_points(db, name):
    if not name:
        return None
    from .demand import load_layer_points

    return load_layer_points(db, name)


def street_graph(db, params: PlanParams):
    """The street network's graph for the parameters' mode, or None for circles;
    CoverageError('network') naming the known networks when the name is unknown."""
    if not params.network:
        return None
    from ..networks import NetworkError, load_graph, networks_dir

    try:
        return load_graph(networks_dir(db), params.network, params.circle.mode)
    except NetworkError as exc:
        raise CoverageError("network", exc.message) from None


def _evaluate(area, stations, params, demand, graph, distances=True):
    if graph is None:
        return evaluate(area, stations, params.circle, demand, distances=distances)
    from .network import evaluate_network

    return evaluate_network(area, stations, params.circle, graph, demand, distances=distances)


def run(db, params: PlanParams, region: str = "beijing", *, stations: StationSet | None = None,
        distances: bool = True):
    """Evaluate coverage for the parameters (along a network's streets when
    ``params.network`` names one); returns a :class:`Coverage`."""
    area = area_for(region, params.districts, params.cell_m)
    graph = street_graph(db, params)
    if stations is None:
        stations = station_set(db, at=params.at, only_24h=params.only_24h)
    return _evaluate(area, stations, params, _demand_points(db, params.demand), graph, distances)


def figures_answer(db, params: PlanParams, region: str = "beijing", coverage=None) -> dict:
    """The JSON answer of the CLI and the API: params, overall and per-district figures."""
    coverage = coverage or run(db, params, region)
    figures = coverage.figures()
    return {"params": {**params.as_dict(), "region": region,
                       "demand_unit": "km²" if coverage.uniform else "weight"},
            "overall": figures["overall"], "districts": figures["districts"]}


def criticality_rows(coverage, region: str, limit: int = 50) -> list[dict]:
    """``Coverage.criticality`` as the page and its download show it: a station outside the
    chosen districts (its circle reaches into them) is named with its own district and
    ``OUTSIDE``; demand and share rounded (4 and 6 digits), so a file holds 2.93, not
    2.9299999999999815."""
    rows = coverage.criticality(limit)
    outside = [r for r in rows if r["district"] is None]
    if outside:
        from geodata.districts import locator

        index = {int(i): k for k, i in enumerate(coverage.stations.ids)}
        picks = [index[r["station_id"]] for r in outside]
        names = locator(region).locate_many(coverage.stations.lons[picks], coverage.stations.lats[picks])
        for row, name in zip(outside, names):
            row["district"] = (name or "") + OUTSIDE
    for row in rows:
        row["demand_only"], row["share"] = round(row["demand_only"], 4), round(row["share"], 6)
    return rows


def rows_csv(rows: list[dict], columns: list[str]) -> str:
    """Rows as CSV text (UTF-8 with a BOM when written to a file opens right in Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:  # names come from uploads and the registry: formula-like text defused
        writer.writerow(["" if row.get(c) is None else defuse_cell(row.get(c)) for c in columns])
    return out.getvalue()


def figures_csv(answer: dict) -> str:
    """One row per district and a last row 全部 (overall)."""
    columns = ["district", *FIGURE_KEYS]
    rows = answer["districts"] + [{"district": "全部", **answer["overall"]}]
    return rows_csv(rows, columns)


# --- what-if and the planner page ---------------------------------------------------------

def parse_whatif(args) -> tuple[list[int], list[tuple[float, float]]]:
    """``close`` = station ids (comma-separated), ``add`` = ``lon,lat;lon,lat`` in the datum
    ``add_datum`` (wgs84, or gcj02 for points taken from Amap), returned in WGS-84."""
    from geodata.datum import parse_datum, to_wgs84

    raw_datum = str(args.get("add_datum") or "wgs84")
    try:
        add_datum = parse_datum(raw_datum)
    except ValueError:
        raise CoverageError("add_datum", f"新增站点的坐标系“{raw_datum}”无效：应为 wgs84（GPS）或 gcj02（高德、腾讯）") \
            from None
    close, add = [], []
    for part in str(args.get("close") or "").replace("，", ",").split(","):
        if part.strip():
            try:
                close.append(int(part.strip().lstrip("#")))
            except ValueError:
                raise CoverageError("close", f"要关闭的站点编号“{part.strip()}”不是整数") from None
    for part in str(args.get("add") or "").replace("；", ";").split(";"):
        if part.strip():
            bits = [b for b in part.replace("，", ",").split(",") if b.strip()]
            try:
                lon, lat = (float(b) for b in bits)
            except ValueError:
                raise CoverageError("add", f"新增站点“{part.strip()}”应写作 经度,纬度") from None
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise CoverageError("add", f"新增站点“{part.strip()}”坐标超出范围")
            add.append(to_wgs84(lon, lat, add_datum) if add_datum != "wgs84" else (lon, lat))
    if len(close) > 1000 or len(add) > 1000:
        raise CoverageError("close", "一次最多假设关闭或新增 1000 个站点")
    return close, add


def whatif(db, params: PlanParams, region: str, close, add, coverage=None) -> dict:
    """Figures before and after closing stations ``close`` and adding sites ``add``."""
    before = coverage or run(db, params, region)
    stations = before.stations.without(close)
    if add:
        stations = stations.plus([a[0] for a in add], [a[1] for a in add])
    after = _evaluate(before.area, stations, params, _demand_points(db, params.demand), before.graph)
    known = set(before.stations.ids.tolist())
    return {"before": before.figures(), "after": after.figures(),
            "closed": [i for i in close if i in known], "unknown": [i for i in close if i not in known],
            "added": add}
