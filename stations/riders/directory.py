"""The public directory: what a visitor may see of stations, and what it means now."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from geodata.datum import DatumError, parse_datum, to_wgs84

from ..hours import HoursError, parse_hours
from ..hours.now import open_state
from ..registry.records import FACILITIES, PRIVATE_FIELDS, STATION_TYPES, STATUSES
from ..storage import (StationNotFound, awarded_station_ids, checklists_version, get_station, search_stations,
                       stations_with_min_total)

__all__ = ["PUBLIC_STATUSES", "ApiQuery", "award_filter_subset", "parse_award_filters", "fields_from_json", "DirectoryQuery", "QueryError", "get_public_station",
           "parse_api_query", "parse_bbox", "parse_datum_param", "parse_directory_query",
           "public_station", "search_api", "search_public"]

PUBLIC_STATUSES = ("active", "temporarily_closed", "closed")  # pending ones are not public yet


class QueryError(ValueError):
    """A bad search parameter: ``parameter`` names it; ``message`` is for API clients
    (English), ``zh`` for people on a page."""

    def __init__(self, parameter: str, message: str, zh: str | None = None):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
        self.zh = zh or f"参数 {parameter} 有误：{message}"


@dataclass
class Filters:
    """What the directory page and the stations API both filter by."""

    q: str = ""
    district: str = ""
    status: str = ""
    facility: tuple = ()
    awarded: bool = False  # only stations with an award on their record (获奖)
    min_qiyou: float | None = None  # only those whose latest 七有 total is at least this


@dataclass
class DirectoryQuery(Filters):
    page: int = 1


def _parse_filters(args, into: Filters) -> Filters:
    into.q = (args.get("q") or "").strip()[:100]
    into.district = (args.get("district") or "").strip()[:30]
    status = (args.get("status") or "").strip()
    if status and status not in PUBLIC_STATUSES:
        raise QueryError("status", f"unknown status {status!r}: expected one of "
                         + ", ".join(PUBLIC_STATUSES), f"不认识的状态“{status}”，已显示全部状态")
    into.status = status
    facilities = []
    for value in args.getlist("facility"):
        for code in value.split(","):
            code = code.strip()
            if not code:
                continue
            if code not in FACILITIES:
                raise QueryError("facility", f"unknown facility {code!r}: expected one of "
                                 + ", ".join(FACILITIES), f"不认识的设施“{code}”，已忽略设施筛选")
            facilities.append(code)
    into.facility = tuple(dict.fromkeys(facilities))
    into.awarded, into.min_qiyou = parse_award_filters(args)
    return into


def parse_award_filters(args) -> tuple:
    """``awarded`` (1 or 0) and ``min_qiyou`` (a 七有 total, 0–100) from a query string:
    (awarded, min_qiyou or None); QueryError names the bad one."""
    raw = (args.get("awarded") or "").strip()
    if raw not in ("", "0", "1"):
        raise QueryError("awarded", f"{raw!r} is not 1 or 0", f"“获奖”筛选应为 1 或 0，而不是“{raw[:20]}”")
    minimum = (args.get("min_qiyou") or "").strip()
    if not minimum:
        return raw == "1", None
    try:
        value = float(minimum)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise QueryError("min_qiyou", f"{minimum[:20]!r} is not a 七有 total within 0..100",
                         f"七有最低总分应是 0 到 100 之间的数，而不是“{minimum[:20]}”")
    return raw == "1", value


def award_filter_subset(db, index, *, awarded=False, min_qiyou=None):
    """The rows of a nearest index (``stations.riders.nearest``) that pass the award and 七有
    filters, as the index's subset (its own small tree), or None when neither is asked.

    Cached on the index, which is replaced whenever a station (and so an award) changes;
    the 七有 part is keyed on the checklists' version too.
    """
    if not awarded and min_qiyou is None:
        return None
    key = ("awarded", bool(awarded), min_qiyou, checklists_version(db) if min_qiyou is not None else None)
    cache = index.subsets
    if key not in cache:
        keep = np.ones(len(index), dtype=bool)
        if awarded:
            keep &= np.isin(index.ids, np.fromiter(awarded_station_ids(db), np.int64))
        if min_qiyou is not None:
            keep &= np.isin(index.ids, np.fromiter(stations_with_min_total(db, min_qiyou), np.int64))
        if len(cache) >= 64:
            cache.clear()
        cache[key] = index.subset(keep)
    return cache[key]


def parse_directory_query(args) -> DirectoryQuery:
    """Read the directory's query string (a mapping with ``get``/``getlist``).

    Open stations only unless a status is asked for (``status=all`` lists every
    public one): a rider browsing the directory wants stations they can go to."""
    status = (args.get("status") or "").strip()
    if not status or status == "all":
        args = _Overridden(args, status="" if status == "all" else "active")
    query = _parse_filters(args, DirectoryQuery())
    try:
        query.page = min(max(1, int(args.get("page") or 1)), 1_000_000)
    except ValueError:
        raise QueryError("page", f"page {args.get('page')!r} is not a whole number",
                         f"页码“{args.get('page')}”不是整数，已显示第 1 页") from None
    return query


class _Overridden:
    """A query-string mapping with some values replaced (``get``/``getlist`` only)."""

    def __init__(self, args, **values):
        self.args, self.values = args, values

    def get(self, name, default=None):
        return self.values[name] if name in self.values else self.args.get(name, default)

    def getlist(self, name):
        return [self.values[name]] if name in self.values else self.args.getlist(name)


def search_public(db, query: DirectoryQuery, page_size: int):
    """One page of public stations for a directory query: (stations, total, pages)."""
    rows, total = search_stations(db, q=query.q or None, district=query.district or None,
                                  status=query.status or None, facility=list(query.facility),
                                  awarded=query.awarded, min_qiyou=query.min_qiyou,
                                  statuses=PUBLIC_STATUSES, limit=page_size,
                                  offset=(query.page - 1) * page_size)
    pages = max(1, -(-total // page_size))
    if query.page > pages:  # a page past the end shows the last one, and says so
        query.page = pages
        return search_public(db, query, page_size)
    stations = [public_station(r) for r in rows]
    for station in stations:
        station["open_state"] = open_state(station)
    return stations, total, pages


def public_station(station: dict) -> dict:
    """A station as the public may see it: no manager, no phone, labels added."""
    out = {k: v for k, v in station.items() if k not in PRIVATE_FIELDS}
    out["status_label"] = STATUSES.get(station.get("status"), station.get("status"))
    out["type_label"] = STATION_TYPES.get(station.get("station_type"), "")
    out["facility_labels"] = [(c, FACILITIES.get(c, c)) for c in station.get("facilities") or []]
    try:
        out["hours_zh"] = parse_hours(station["hours"]).to_zh() if station.get("hours") else ""
    except HoursError:
        out["hours_zh"] = station.get("hours") or ""
    out["hours_shown"] = station.get("hours_text") or out["hours_zh"]  # as the organiser wrote them
    return out


def get_public_station(db, station_id) -> dict:
    """One station for the public; pending ones are not found."""
    station = get_station(db, station_id)
    if station["status"] not in PUBLIC_STATUSES:
        raise StationNotFound(station_id)
    return public_station(station)


@dataclass
class ApiQuery(Filters):
    bbox: tuple | None = None
    datum: str = "wgs84"
    limit: int = 100
    offset: int = 0


def _int_param(args, name, default, low, high):
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(name, f"{raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise QueryError(name, f"{value} is out of range {low}..{high}")
    return value


def parse_bbox(raw: str) -> tuple:
    """``minlon,minlat,maxlon,maxlat`` -> tuple of floats, or QueryError('bbox', …)."""
    parts = [p.strip() for p in str(raw).split(",")]
    if len(parts) != 4:
        raise QueryError("bbox", "expected four numbers: minlon,minlat,maxlon,maxlat")
    try:
        minlon, minlat, maxlon, maxlat = (float(p) for p in parts)
    except ValueError:
        raise QueryError("bbox", f"{raw!r} is not four numbers") from None
    if not all(map(math.isfinite, (minlon, minlat, maxlon, maxlat))):
        raise QueryError("bbox", "coordinates must be finite numbers")
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180):
        raise QueryError("bbox", "longitudes must be within -180..180")
    if not (-90 <= minlat <= 90 and -90 <= maxlat <= 90):
        raise QueryError("bbox", "latitudes must be within -90..90 (is the order "
                                 "minlon,minlat,maxlon,maxlat?)")
    if minlon > maxlon or minlat > maxlat:
        raise QueryError("bbox", "min must not exceed max (order: minlon,minlat,maxlon,maxlat)")
    return minlon, minlat, maxlon, maxlat


def parse_datum_param(value) -> str:
    """A ``datum`` parameter, or QueryError('datum', …)."""
    try:
        return parse_datum(value)
    except DatumError as exc:
        raise QueryError("datum", str(exc), f"不认识的坐标系“{value}”，应为 wgs84、gcj02 或 bd09") from None


def parse_api_query(args) -> ApiQuery:
    """Read ``GET /api/v1/stations`` parameters; QueryError names the bad one."""
    query = _parse_filters(args, ApiQuery())
    query.datum = parse_datum_param(args.get("datum"))
    if args.get("bbox"):
        bbox = parse_bbox(args["bbox"])
        if query.datum != "wgs84":  # the index is WGS-84: convert the corners
            minlon, minlat = to_wgs84(bbox[0], bbox[1], query.datum)
            maxlon, maxlat = to_wgs84(bbox[2], bbox[3], query.datum)
            bbox = (minlon, minlat, maxlon, maxlat)
        query.bbox = bbox
    query.limit = _int_param(args, "limit", 100, 1, 1000)
    query.offset = _int_param(args, "offset", 0, 0, 10_000_000)
    return query


def search_api(db, query: ApiQuery):
    """(public stations, total) for an API query."""
    rows, total = search_stations(db, q=query.q or None, district=query.district or None,
                                  status=query.status or None, facility=list(query.facility),
                                  bbox=query.bbox, awarded=query.awarded, min_qiyou=query.min_qiyou,
                                  statuses=PUBLIC_STATUSES, limit=query.limit,
                                  offset=query.offset)
    return rows, total


def fields_from_json(body) -> dict:
    """Station fields from an API body: a GeoJSON Feature, or a plain object of fields."""
    if not isinstance(body, dict):
        raise QueryError("body", "expected a JSON object (a GeoJSON Feature or properties)")
    if body.get("type") != "Feature":
        return dict(body)
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise QueryError("properties", "expected an object of station fields")
    props = dict(props)
    geometry = body.get("geometry")
    if geometry:
        coords = geometry.get("coordinates") if isinstance(geometry, dict) and \
            geometry.get("type") == "Point" else None
        if not isinstance(coords, list) or len(coords) < 2:
            raise QueryError("geometry", "expected a Point with [lon, lat] coordinates")
        props["lon"], props["lat"] = coords[0], coords[1]
    return props
