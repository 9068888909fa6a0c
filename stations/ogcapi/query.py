"""Reading an items request's query string: paging, bbox, datetime, CRS and property
filters.  A bad value raises OgcError naming the parameter, with a Chinese message."""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..registry.records import FACILITIES, STATUSES
from ..storage import TZ
from .crs import CRS84, CrsError, parse_crs, to_wgs84_bbox

__all__ = ["ITEM_PARAMETERS", "MAX_LIMIT", "ItemsQuery", "OgcError", "decode_cursor", "encode_cursor",
           "parse_datetime", "parse_items_query", "parse_plain_query"]

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
FILTERS = ("district", "status", "facilities", "host_union", "host_union_id", "open_now")
ITEM_PARAMETERS = frozenset({"f", "limit", "offset", "cursor", "bbox", "bbox-crs", "datetime", "crs",
                             *FILTERS})
_FREE_TEXT = frozenset({"district", "host_union"})  # empty: no filter
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class OgcError(ValueError):
    """A request the service refuses: ``status`` (400, 404 …), the ``parameter`` at fault
    (or None) and a Chinese ``message`` saying what was wrong and what to send."""

    def __init__(self, parameter: str | None, message: str, status: int = 400):
        super().__init__(f"{parameter}: {message}")
        self.parameter, self.message, self.status = parameter, message, status


@dataclass
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    after_id: int | None = None
    before_id: int | None = None
    bbox: tuple | None = None  # WGS-84 lon/lat
    crs: str = CRS84
    updated_from: str | None = None
    updated_to: str | None = None
    district: str | None = None
    status: str | None = None
    facilities: tuple = ()
    host_union: str | None = None  # a name or alias: resolved to the union
    host_union_id: int | None = None
    open_now: bool | None = None
    kept: dict = field(default_factory=dict)  # the arguments a next/prev link repeats


def encode_cursor(direction: str, station_id: int) -> str:
    """An opaque cursor: the page after (``a``) or before (``b``) a station id."""
    return base64.urlsafe_b64encode(f"{direction}{int(station_id)}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = re.fullmatch(r"([ab])([0-9]{1,18})", raw)
    if not match:
        raise OgcError("cursor", "分页游标无效：请使用上一页答复中 next 或 prev 链接里的 cursor，"
                                 "或改用 offset 参数")
    return match.group(1), int(match.group(2))


def _int(args, name, default, low, high) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,12}", raw):
        raise OgcError(name, f"参数 {name} 应是 {low} 到 {high} 之间的整数，而不是“{raw[:20]}”")
    value = int(raw)
    if not low <= value <= high:
        raise OgcError(name, f"参数 {name} 应在 {low} 到 {high} 之间，而不是 {value}")
    return value


def _bbox(args, crs_key) -> tuple | None:
    raw = args.get("bbox")
    if raw is None or not raw.strip():
        return None
    parts = [p.strip() for p in raw.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(map(math.isfinite, numbers)):
        raise OgcError("bbox", "bbox 应是 4 个数（最小经度,最小纬度,最大经度,最大纬度；"
                               "bbox-crs 为 EPSG:4326/4490 时纬度在前），用英文逗号分隔")
    if len(numbers) == 6:  # heights are not kept: drop them
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minlon, minlat, maxlon, maxlat = to_wgs84_bbox(crs_key, numbers)
    if not all(-180 <= x <= 180 for x in (minlon, maxlon)) or not all(-90 <= y <= 90 for y in (minlat, maxlat)):
        raise OgcError("bbox", "bbox 超出范围：经度应在 -180 到 180 之间，纬度在 -90 到 90 之间"
                               "（是否把经纬度顺序弄反了？）")
    if minlon > maxlon or minlat > maxlat:
        raise OgcError("bbox", "bbox 的最小值大于最大值：顺序应是左下角在前、右上角在后")
    return minlon, minlat, maxlon, maxlat


def _moment(text: str, end: bool) -> str | None:
    """One end of a datetime interval as stored text (Beijing time, seconds); '..' or ''
    is open.  A date alone is its whole day in Beijing."""
    if text in ("", ".."):
        return None
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=TZ)
            if end:
                moment += timedelta(days=1, seconds=-1)
        else:
            moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=TZ)
    except ValueError:
        raise OgcError("datetime", f"时间“{text[:40]}”无法识别：应为 RFC 3339 格式，如 2026-12-01T08:00:00Z "
                                   "或 2026-12-01，区间用 / 分隔，开放的一端写 ..") from None
    return moment.astimezone(TZ).isoformat(timespec="seconds")


def parse_datetime(raw: str | None) -> tuple[str | None, str | None]:
    """``datetime`` (an instant, a date or an interval ``a/b`` with ``..`` for an open end)
    as (from, to) in stored text, both inclusive."""
    text = (raw or "").strip()
    if not text:
        return None, None
    if "/" in text:
        start, _, end = text.partition("/")
        if start in ("", "..") and end in ("", ".."):
            raise OgcError("datetime", "时间区间两端不能都开放：至少给出一端，如 2026-12-01T00:00:00Z/..")
        low, high = _moment(start.strip(), False), _moment(end.strip(), True)
        if low and high and low > high:
            raise OgcError("datetime", "时间区间的开始晚于结束：应为 开始/结束")
        return low, high
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return _moment(text, False), _moment(text, True)
    moment = _moment(text, False)
    return moment, moment


def _crs(args, name) -> str:
    try:
        return parse_crs(args.get(name))
    except CrsError as exc:
        raise OgcError(name, f"不支持的坐标参考系“{str(exc)[:80]}”：可用 CRS84（默认）、EPSG:4326、"
                             "EPSG:4490 或 GCJ-02（/ogcapi/crs/gcj02），见集合的 crs 列表") from None


def parse_plain_query(args, allowed=frozenset({"f"})) -> None:
    """Refuse parameters a document does not take (OGC API: unknown parameters are a 400)."""
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise OgcError(unknown[0], f"不认识的参数 {unknown[0][:40]}：此处可用的参数是 "
                                   + "、".join(sorted(allowed)))
    for name, value in args.items():
        if name not in _FREE_TEXT and not value.strip():  # ?limit= is no number: not the default either
            raise OgcError(name, f"参数 {name} 不能为空：请给出取值，或不带这个参数")


def parse_items_query(args) -> ItemsQuery:
    """An items request's parameters (``args``: a mapping with ``get``) as an ItemsQuery;
    OgcError names the first bad one."""
    parse_plain_query(args, ITEM_PARAMETERS)
    query = ItemsQuery()
    query.limit = _int(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    query.offset = _int(args, "offset", 0, 0, 10_000_000)
    cursor = (args.get("cursor") or "").strip()
    if cursor:
        direction, station_id = decode_cursor(cursor)
        if direction == "a":
            query.after_id = station_id
        else:
            query.before_id = station_id
    query.crs = _crs(args, "crs")
    bbox_crs = _crs(args, "bbox-crs")
    if args.get("bbox-crs") and not args.get("bbox"):
        raise OgcError("bbox-crs", "给了 bbox-crs 却没有 bbox：请同时给出 bbox，或去掉 bbox-crs")
    query.bbox = _bbox(args, bbox_crs)
    query.updated_from, query.updated_to = parse_datetime(args.get("datetime"))
    query.district = (args.get("district") or "").strip()[:60] or None
    query.host_union = " ".join((args.get("host_union") or "").split())[:100] or None
    union_id = (args.get("host_union_id") or "").strip()
    if union_id:
        if not union_id.isdigit() or not 0 < int(union_id) < 2 ** 62:
            raise OgcError("host_union_id", f"工会编号“{union_id[:20]}”应为正整数（见 /api/v1/unions）")
        query.host_union_id = int(union_id)
    status = (args.get("status") or "").strip()
    if status and status not in STATUSES:
        raise OgcError("status", f"不认识的状态“{status[:20]}”：应为 " + "、".join(
            f"{k}（{v}）" for k, v in STATUSES.items()))
    query.status = status or None
    codes = [c.strip() for c in (args.get("facilities") or "").split(",") if c.strip()]
    for code in codes:
        if code not in FACILITIES:
            raise OgcError("facilities", f"不认识的设施“{code[:20]}”：应为 " + "、".join(
                f"{k}（{v}）" for k, v in FACILITIES.items()) + "，多个用英文逗号分隔")
    query.facilities = tuple(dict.fromkeys(codes))
    flag = (args.get("open_now") or "").strip().lower()
    if flag and flag not in _TRUE + _FALSE:
        raise OgcError("open_now", f"open_now 应为 true 或 false，而不是“{flag[:20]}”")
    query.open_now = (flag in _TRUE) if flag else None
    query.kept = {k: v for k, v in args.items() if k not in ("offset", "cursor", "f") and v != ""}
    return query
