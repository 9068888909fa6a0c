"""What a rider asks for: the nearest stations open now with the facilities they need."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

import orjson

from geodata.datum import from_wgs84, to_wgs84

from ..hours.now import open_state
from ..registry.coords import CoordinateError, parse_coordinate
from ..registry.exporter import station_feature
from .directory import QueryError, award_filter_subset, parse_award_filters, parse_datum_param, public_station
from .feedback import FOUND, satisfaction
from .by_network import NETWORK_MODES, network_hits, network_metres_of, network_minutes
from .nearest import RIDE_SPEED_KMH, WALK_SPEED_KMH, haversine_m, index_for, travel_minutes
from ..registry.records import FACILITIES
from ..storage import TZ, search_stations, stations_by_ids

__all__ = ["NearestQuery", "parse_nearest_query", "nearest_answer", "nearest_json", "nearest_for_page",
           "district_origin", "district_choices", "parse_nearby_query", "station_page",
           "navigation_links", "MAX_K", "MAX_RADIUS_M", "NEARBY_RADIUS_M", "TRAVEL_MODES"]

MAX_K = 50
MAX_RADIUS_M = 50_000
# The rider page lists stations within this distance of a real location: beyond it
# a station is no help to someone on an e-bike (20 km ≈ 1 h 45 min at 15 km/h on streets).
NEARBY_RADIUS_M = 20_000
# Open stations shown above the list even when the nearest ones are all closed.
OPEN_SHOWN = 3
REGION_LABELS = {"beijing": "北京市 16 个区", "china": "全国各城市"}


@dataclass
class NearestQuery:
    lon: float  # WGS-84, whatever datum the caller used
    lat: float
    datum: str = "wgs84"
    k: int = 5
    radius_m: float | None = None
    open_now: bool = False
    only_24h: bool = False
    at: datetime | None = None
    facilities: tuple = ()
    status: str | None = "active"
    given: dict = field(default_factory=dict)  # lon/lat as the caller gave them
    located: bool = True  # False when the point stands in for a chosen district
    district: str = ""  # the chosen district, when not located
    travel: str = "ride"  # the minutes the rider page leads with: ride or walk
    awarded: bool = False  # only stations with an award (获奖)
    min_qiyou: float | None = None  # only those whose latest 七有 total is at least this
    by: str = "straight"  # rank by straight line, or along a street network's streets
    network: str = ""  # the network named (by=network); the one covering the point if blank
    mode: str = "walk"  # by=network: walk, or ebike (the e-bike network, one-way streets, 15 km/h)


def _flag(args, name) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise QueryError(name, f"{raw!r} is not a yes/no value: use 1 or 0", f"选项“{raw}”无效")


def _number(args, name, low, high, required=False):
    raw = args.get(name)
    if raw is None or str(raw).strip() == "":
        if required:
            raise QueryError(name, f"{name} is required", "缺少位置：请定位、选区或在地图上选点")
        return None
    try:
        try:
            value = float(raw)  # the usual case, fast
        except ValueError:
            if name not in ("lon", "lat"):
                raise
            value = parse_coordinate(raw)  # full-width digits, degree signs…
    except (CoordinateError, ValueError):
        raise QueryError(name, f"{raw!r} is not a number",
                         f"位置“{raw}”不是数字，请重新定位或选区") from None
    if not math.isfinite(value) or not (low <= value <= high):
        raise QueryError(name, f"{value:g} is out of range {low:g}..{high:g}",
                         f"位置超出范围（{value:g}），请重新定位或选区")
    return value


def parse_nearest_query(args) -> NearestQuery:
    """Read ``/api/v1/nearest`` (and ``/nearby``) parameters; QueryError names the bad one."""
    datum = parse_datum_param(args.get("datum"))
    lat = _number(args, "lat", -90, 90, required=True)
    lon = _number(args, "lon", -180, 180, required=True)
    k_raw = args.get("k") or "5"
    try:
        k = int(k_raw)
    except ValueError:
        raise QueryError("k", f"{k_raw!r} is not a whole number",
                         f"结果个数“{k_raw}”不是整数") from None
    if not 1 <= k <= MAX_K:
        raise QueryError("k", f"{k} is out of range 1..{MAX_K}",
                         f"结果个数应在 1 到 {MAX_K} 之间，而不是 {k}")
    radius = _number(args, "radius_m", 0, MAX_RADIUS_M)
    status = (args.get("status") or "active").strip()
    if status == "any":
        status = None
    elif status not in ("active", "temporarily_closed", "closed"):
        raise QueryError("status", f"unknown status {status!r}: expected active, "
                         "temporarily_closed, closed or any", f"不认识的状态“{status}”")
    facilities = []
    for part in (args.get("facilities") or "").split(","):
        part = part.strip()
        if part:
            if part not in FACILITIES:
                raise QueryError("facilities", f"unknown facility {part!r}: expected some of "
                                 + ", ".join(FACILITIES),
                                 f"不认识的设施“{part}”，请从列表中选择设施")
            facilities.append(part)
    at = None
    if args.get("at"):
        try:
            at = datetime.fromisoformat(args["at"].strip().replace("Z", "+00:00"))
        except ValueError:
            raise QueryError("at", f"{args['at']!r} is not an ISO time like 2026-11-24T21:30",
                             f"时间“{args['at']}”无法识别，应为类似 2026-11-24T21:30 的写法") from None
        at = at.astimezone(TZ) if at.tzinfo else at.replace(tzinfo=TZ)
    awarded, min_qiyou = parse_award_filters(args)
    by = (args.get("by") or "straight").strip()
    if by not in ("straight", "network"):
        raise QueryError("by", f"unknown ranking {by!r}: expected straight or network",
                         f"不认识的排序方式“{by}”，应为 straight（直线）或 network（按道路）")
    mode = (args.get("mode") or "walk").strip()
    if mode not in NETWORK_MODES:
        raise QueryError("mode", f"unknown mode {mode!r}: expected walk or ebike",
                         f"不认识的出行方式“{mode}”，应为 walk（步行）或 ebike（电动自行车）")
    wlon, wlat = to_wgs84(lon, lat, datum)
    return NearestQuery(lon=wlon, lat=wlat, datum=datum, k=k, radius_m=radius,
                        open_now=_flag(args, "open_now"), only_24h=_flag(args, "open_24h"),
                        at=at, facilities=tuple(dict.fromkeys(facilities)), status=status,
                        given={"lon": lon, "lat": lat}, awarded=awarded, min_qiyou=min_qiyou,
                        by=by, network=(args.get("network") or "").strip(), mode=mode)


TRAVEL_MODES = {"ride": "骑车", "walk": "步行"}


def parse_nearby_query(args: dict, facilities: list, region: str) -> NearestQuery:
    """The rider page's form (lat/lon from the phone or a map tap, or a district, and
    facility checkboxes) as a nearest query; 10 results by default, within
    NEARBY_RADIUS_M of a real location.  ``mode`` (ride or walk) picks the minutes
    the list leads with."""
    fields = {name: args.get(name, "") for name in ("lat", "lon", "datum", "k", "open_now",
                                                     "open_24h", "at")}
    fields["k"] = fields["k"] or "10"
    fields["facilities"] = ",".join(facilities)
    travel = (args.get("mode") or "ride").strip()
    if travel not in TRAVEL_MODES:
        raise QueryError("mode", f"unknown mode {travel!r}: expected ride or walk",
                         f"不认识的出行方式“{travel}”，应为骑车或步行")
    district = (args.get("district") or "").strip()
    if district and not (fields["lat"] or fields["lon"]):
        origin = district_origin(region, district)
        if origin is None:
            raise QueryError("district", f"no district named {district!r}",
                             f"没有名为“{district}”的区，请从列表中选择")
        fields["lon"], fields["lat"], fields["datum"] = str(origin[0]), str(origin[1]), "wgs84"
        query = parse_nearest_query(fields)
        query.located = False
        query.district = district
    else:
        query = parse_nearest_query(fields)
        query.radius_m = NEARBY_RADIUS_M
    query.travel = travel
    return query


def _search(db, query: NearestQuery, index_key: str):
    """(index, hits, at, network name or None, {station id: metres along the streets})."""
    at = query.at or datetime.now(TZ)
    index = index_for(db, index_key)
    search = dict(radius_m=query.radius_m, status=query.status, facilities=query.facilities,
                  open_now=query.open_now, only_24h=query.only_24h, at=at,
                  subset=award_filter_subset(db, index, awarded=query.awarded, min_qiyou=query.min_qiyou))
    if query.by == "network":
        name, ranked = network_hits(db, index, query.lon, query.lat, query.k, query.network,
                                    mode=query.mode, **search)
        if ranked is not None:
            return index, [h for h, _ in ranked], at, name, {h.station_id: m for h, m in ranked}
    return index, index.query(query.lon, query.lat, query.k, **search), at, None, {}


_FEATURE_CACHE_SIZE = 50_000


def _features(db, index, ids, datum) -> dict:
    """Features of these stations in ``datum``, as JSON ready to be placed in an answer
    (``orjson.Fragment``), cached on the index (which is replaced, and so the cache
    dropped, whenever any station changes).  Serialised once per station, not once per
    answer: a rider's search is mostly the writing out of its five Features."""
    cache = index.features
    missing = [i for i in ids if (i, datum) not in cache]
    if missing:
        if len(cache) > _FEATURE_CACHE_SIZE:
            cache.clear()
        for station_id, station in stations_by_ids(db, missing).items():
            cache[(station_id, datum)] = orjson.Fragment(orjson.dumps(station_feature(station, datum)))
    return {i: cache[(i, datum)] for i in ids if (i, datum) in cache}


_DISTANCE_NOTE = "haversine on a sphere of radius 6371008.8 m (WGS-84 mean radius)"
_NETWORK_RULE = ("rider and station join the nearest street {usable} (straight line, at most 300 m); "
                 "network_m is that plus the street length; network_minutes at {speed:g} km/h, rounded up")
_USABLE = {"walk": "one may walk", "ebike": "an e-bike may ride (one-way streets respected)"}


def nearest_json(db, query: NearestQuery, index_key: str = "default") -> bytes:
    """The JSON answer of ``/api/v1/nearest``, as bytes: results nearest first, and the
    query echoed back."""
    index, hits, at, network, along = _search(db, query, index_key)
    features = _features(db, index, [h.station_id for h in hits], query.datum)
    extra = {}
    if network is not None:
        speed = NETWORK_MODES[query.mode]
        extra = {"by": "network", "network": network, "mode": query.mode, "network_speed_kmh": speed,
                 "network_rule": _NETWORK_RULE.format(usable=_USABLE[query.mode], speed=speed)}
    elif query.by == "network":
        extra = {"by": "straight", "network": None, "network_note": "no stored street network covers this point"}

    def result(h):
        out = {"station": features[h.station_id], "distance_m": round(h.distance_m, 1),
               "walk_minutes": h.walk_minutes, "open_now": h.open_now}
        if network is not None:
            out.update(network_m=round(along[h.station_id], 1),
                       network_minutes=network_minutes(along[h.station_id], NETWORK_MODES[query.mode]))
        return out

    return orjson.dumps({
        "results": [result(h) for h in hits if h.station_id in features],
        "query": {"lon": query.given["lon"], "lat": query.given["lat"], "datum": query.datum,
                  "k": query.k, "radius_m": query.radius_m, "open_now": query.open_now,
                  "open_24h": query.only_24h, "facilities": list(query.facilities),
                  "status": query.status or "any", "at": at.isoformat(timespec="minutes"),
                  "awarded": query.awarded, "min_qiyou": query.min_qiyou,
                  "distance": _DISTANCE_NOTE, "walk_speed_kmh": 5.0, "detour_factor": 1.3, **extra},
    })


def nearest_answer(db, query: NearestQuery, index_key: str = "default") -> dict:
    """``nearest_json`` as plain data."""
    return orjson.loads(nearest_json(db, query, index_key))


def nearest_for_page(db, query: NearestQuery, index_key: str = "default", *,
                     tencent_referer: str = "yizhan", region: str = "beijing") -> dict:
    """What the rider page shows for a query, open stations first.

    Returns a dict: ``groups`` — (key, title, rows) for stations open now, with hours
    unknown, and closed now, in that order, each nearest first; ``count``;
    ``located`` (False for a district: then rows carry no distance); ``too_far``
    (a real location with no station within NEARBY_RADIUS_M); ``no_open`` (nothing
    open within reach); ``district`` and ``district_total``; ``coverage`` (the area
    Yizhan lists, in Chinese); ``travel`` (ride or walk).  Each row has the public
    station, ``distance_m`` (None without a location), ``walk_minutes``,
    ``ride_minutes``, ``open_state`` and navigation ``links``.
    """
    at = query.at or datetime.now(TZ)
    answer = {"located": query.located, "district": query.district, "district_total": 0,
              "too_far": False, "no_open": False, "travel": query.travel,
              "coverage": REGION_LABELS.get(region, region), "radius_km": NEARBY_RADIUS_M // 1000}
    if query.located:
        rows = _located_rows(db, query, index_key, at, answer, tencent_referer)
    else:
        rows = _district_rows(db, query, at, answer, tencent_referer)
    titles = {True: "现在开门", None: "开放时间未知", False: "现在关门"}
    answer["groups"] = [(str(state).lower(), titles[state],
                         [r for r in rows if r["open_state"]["open"] is state])
                        for state in (True, None, False)]
    answer["groups"] = [g for g in answer["groups"] if g[2]]
    answer["count"] = len(rows)
    answer["no_open"] = bool(rows) and not any(r["open_state"]["open"] for r in rows)
    return answer


def _row(station, distance_m, at, links, network_m=None):
    along = network_m is not None and math.isfinite(network_m)
    return {"station": station, "distance_m": distance_m, "network_m": network_m if along else None,
            "network_minutes": network_minutes(network_m) if along else None,
            "walk_minutes": None if distance_m is None else travel_minutes(distance_m, WALK_SPEED_KMH),
            "ride_minutes": None if distance_m is None else travel_minutes(distance_m, RIDE_SPEED_KMH),
            "open_state": open_state(station, at), "links": links}


def _located_rows(db, query, index_key, at, answer, tencent_referer):
    """The k nearest within reach, and the nearest open ones when those are not among them."""
    index = index_for(db, index_key)
    search = dict(radius_m=query.radius_m, status=query.status, facilities=query.facilities,
                  only_24h=query.only_24h, at=at)
    name, ranked = network_hits(db, index, query.lon, query.lat, query.k, open_now=query.open_now, **search)
    if ranked is not None:  # a street network covers the rider: nearest along its streets
        hits, along = [h for h, _ in ranked], {h.station_id: m for h, m in ranked}
        answer["network"] = name
    else:
        hits, along = index.query(query.lon, query.lat, query.k, open_now=query.open_now, **search), {}
    if not query.open_now:
        seen = {h.station_id for h in hits}
        hits += [h for h in index.query(query.lon, query.lat, OPEN_SHOWN, open_now=True, **search)
                 if h.station_id not in seen]
    if not hits:
        answer["too_far"] = not index.query(query.lon, query.lat, 1, radius_m=query.radius_m,
                                            status=query.status, at=at)
        return []
    origin = (query.lon, query.lat)
    stations = stations_by_ids(db, [h.station_id for h in hits])
    if ranked is not None:
        along.update(network_metres_of(db, index, name, query.lon, query.lat,
                                       [h for h in hits if h.station_id not in along]))
    rows = [_row(public_station(stations[h.station_id]), h.distance_m, at,
                 navigation_links(stations[h.station_id], origin, tencent_referer=tencent_referer),
                 along.get(h.station_id))
            for h in hits if h.station_id in stations]  # deleted since the index was built
    rows.sort(key=lambda r: (r["network_m"] if r["network_m"] is not None else r["distance_m"], r["station"]["id"]))
    return rows


def _district_rows(db, query, at, answer, tencent_referer):
    """A district's stations without distances: open first, then from the district's
    middle outwards (an order, not a distance anyone should read)."""
    found, _ = search_stations(db, district=query.district, status=query.status,
                               facility=list(query.facilities), limit=100_000)
    rows = []
    for record in found:
        station = public_station(record)
        state = open_state(station, at)
        if query.open_now and state["open"] is not True:
            continue
        if query.only_24h and state["label"] != "24小时开放":
            continue
        rows.append({"station": station, "distance_m": None, "walk_minutes": None,
                     "ride_minutes": None, "open_state": state,
                     "links": navigation_links(record, tencent_referer=tencent_referer)})
    answer["district_total"] = len(rows)
    if rows:
        middle = haversine_m(query.lon, query.lat, [r["station"]["lon"] for r in rows],
                             [r["station"]["lat"] for r in rows])
        rank = {True: 0, None: 1, False: 2}
        order = sorted(range(len(rows)), key=lambda i: (rank[rows[i]["open_state"]["open"]],
                                                        float(middle[i]), rows[i]["station"]["id"]))
        rows = [rows[i] for i in order[:query.k]]
    return rows


def station_page(db, station: dict, at: datetime | None = None, *,
                 tencent_referer: str = "yizhan") -> dict:
    """What a station's public page shows besides the record: open now, the riders'
    rating, the feedback choices and the navigation links."""
    return {"station": station, "open_state": open_state(station, at),
            "satisfaction": satisfaction(db, station["id"]), "found": FOUND,
            "links": navigation_links(station, tencent_referer=tencent_referer)}


# Map apps read some parameters as lists joined by these ASCII characters (Tencent's
# "coord:…;title:…", Amap's "lon,lat,name", Baidu's "latlng:…|name:…"): inside a name
# they would start a new field, so they become their full-width look-alikes.
_FIELD_SEPARATORS = str.maketrans({";": "；", ":": "：", ",": "，", "|": "｜"})


def _nav_text(text, limit: int = 60) -> str:
    """A name as a map app should show it: one line, no field separators, not huge."""
    flat = "".join(ch if ch.isprintable() else " " for ch in str(text or ""))
    return " ".join(flat.split()).translate(_FIELD_SEPARATORS)[:limit] or "驿站"


def navigation_links(station: dict, origin: tuple[float, float] | None = None, *,
                     tencent_referer: str = "yizhan") -> dict:
    """Route links (riding) in Amap, Baidu and Tencent maps to the station, each in its datum.

    Amap and Tencent take GCJ-02 and Baidu BD-09: a WGS-84 point handed to them
    unconverted lands 300–700 m away in Beijing.  ``origin`` is the rider's WGS-84
    (lon, lat) when known; without it Amap and Tencent start from the phone's own
    location, and Baidu (whose route link needs a start) opens the station marker.
    Every parameter is URL-encoded and the station's name is stripped of the
    characters a map app reads as field separators, so a name cannot add a second
    destination.  ``tencent_referer`` is the Tencent LBS key or app name that
    Tencent asks every URI call to carry.
    """
    name = _nav_text(station["name"])
    address = _nav_text(station.get("address") or station["name"], 120)
    glon, glat = from_wgs84(station["lon"], station["lat"], "gcj02")
    blon, blat = from_wgs84(station["lon"], station["lat"], "bd09")
    amap = {"to": f"{glon:.6f},{glat:.6f},{name}", "mode": "ride", "policy": 1,
            "src": "yizhan", "coordinate": "gaode", "callnative": 1}
    tencent = {"type": "bike", "to": name, "tocoord": f"{glat:.6f},{glon:.6f}",
               "policy": 0, "referer": _nav_text(tencent_referer) or "yizhan"}
    if origin is not None:
        oglon, oglat = from_wgs84(origin[0], origin[1], "gcj02")
        oblon, oblat = from_wgs84(origin[0], origin[1], "bd09")
        amap = {"from": f"{oglon:.6f},{oglat:.6f},我的位置", **amap}
        tencent = {"type": "bike", "from": "我的位置", "fromcoord": f"{oglat:.6f},{oglon:.6f}",
                   **{k: v for k, v in tencent.items() if k != "type"}}
        baidu = "https://api.map.baidu.com/direction?" + urlencode(
            {"origin": f"latlng:{oblat:.6f},{oblon:.6f}|name:我的位置",
             "destination": f"latlng:{blat:.6f},{blon:.6f}|name:{name}",
             "mode": "riding", "coord_type": "bd09ll", "output": "html",
             "src": "webapp.yizhan.nearby"})
    else:
        baidu = "https://api.map.baidu.com/marker?" + urlencode(
            {"location": f"{blat:.6f},{blon:.6f}", "title": name, "content": address,
             "output": "html", "coord_type": "bd09ll", "src": "webapp.yizhan.station"})
    return {
        "amap": "https://uri.amap.com/navigation?" + urlencode(amap),
        "baidu": baidu,
        "tencent": "https://apis.map.qq.com/uri/v1/routeplan?" + urlencode(tencent),
    }


def district_origin(region: str, name: str) -> tuple[float, float] | None:
    """A point well inside the named district (WGS-84), for riders who pick a district."""
    from geodata import districts as geo

    frame = geo.load_districts(region)
    match = frame[frame["name"] == name]
    if match.empty:
        return None
    point = match.geometry.iloc[0].representative_point()
    return float(point.x), float(point.y)


def district_choices(region: str) -> list[str]:
    from geodata import districts as geo

    return list(geo.locator(region).names)
