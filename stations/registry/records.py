"""The station record: its fields, vocabularies and validation.

A record here is a plain dict with the English field names of DESIGN.md §3.
``clean_station`` turns what a person typed (a form, an import row, an API body)
into a record, collecting one message per bad field rather than stopping at the
first, so a form can show them all and an import report can list them all.
Spatial checks (in China, in the region, which district) need the boundary data
and live in ``stations.registry.validation``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from geodata.datum import DatumError, parse_datum, to_wgs84

from .coords import CoordinateError, parse_coordinate, parse_lonlat_pair
from ..hours import HoursError, parse_hours
from ..text import forbidden_character, refusal

__all__ = [
    "FACILITIES",
    "FIELDS",
    "PRIVATE_FIELDS",
    "STATION_TYPES",
    "STATUSES",
    "Problem",
    "CleanResult",
    "clean_station",
    "control_problem",
    "facility_label",
    "parse_facilities",
    "parse_station_type",
    "parse_status",
]

# code -> Chinese label, then extra spellings people use in spreadsheets.
FACILITIES = {
    "water": "饮水",
    "fridge": "冰箱",
    "microwave": "微波炉",
    "charging": "充电",
    "tyre_inflation": "充气",
    "rain_gear": "雨具",
    "first_aid": "急救箱",
    "epidemic_supplies": "防疫物资",
    "toilet": "厕所",
    "rest_area": "休息区",
    "vending_24h": "24小时自助",
    "battery_swap": "换电",
    "wifi": "无线网络",
    "books": "图书",
    "haircut": "理发",
    "legal_aid": "法律援助",
    "meals": "餐食",
    "heating": "取暖",
    "cooling": "纳凉",
    "repair": "维修工具",
}
_FACILITY_ALIASES = {
    "饮水机": "water", "热水": "water", "饮用水": "water", "开水": "water", "喝水": "water",
    "饮水点": "water", "drinking_water": "water",
    "冷藏": "fridge", "电冰箱": "fridge",
    "微波": "microwave", "热饭": "microwave", "加热": "microwave",
    "手机充电": "charging", "充电宝": "charging", "充电插座": "charging", "充电器": "charging",
    "打气": "tyre_inflation", "充气工具": "tyre_inflation", "打气筒": "tyre_inflation",
    "充电充气": ("charging", "tyre_inflation"), "充电充气工具": ("charging", "tyre_inflation"),
    "雨伞": "rain_gear", "雨衣": "rain_gear",
    "急救": "first_aid", "药箱": "first_aid", "医药箱": "first_aid", "急救包": "first_aid",
    "防疫": "epidemic_supplies", "应急防疫物资": "epidemic_supplies", "口罩": "epidemic_supplies",
    "卫生间": "toilet", "如厕": "toilet", "如厕区": "toilet", "洗手间": "toilet",
    "休息": "rest_area", "休息室": "rest_area", "桌椅": "rest_area", "座椅": "rest_area",
    "24小时": "vending_24h", "自动售货机": "vending_24h", "售货机": "vending_24h",
    "24小时服务": "vending_24h",
    "换电柜": "battery_swap", "电池更换": "battery_swap",
    "wi-fi": "wifi", "无线网": "wifi", "网络": "wifi",
    "书籍": "books", "图书角": "books", "书屋": "books", "阅读": "books", "读书": "books",
    "理发服务": "haircut",
    "法律咨询": "legal_aid", "法律服务": "legal_aid",
    "用餐": "meals", "就餐": "meals", "爱心餐": "meals", "免费餐": "meals", "餐饮": "meals",
    "暖气": "heating", "空调": "cooling", "工具": "repair", "修车": "repair",
}

STATUSES = {
    "active": "正常开放",
    "temporarily_closed": "暂停开放",
    "closed": "已关闭",
    "pending": "待审核",
}
_STATUS_ALIASES = {
    "正常": "active", "开放": "active", "运营": "active", "运营中": "active", "营业": "active",
    "启用": "active", "在用": "active", "open": "active",
    "暂停": "temporarily_closed", "暂停服务": "temporarily_closed", "临时关闭": "temporarily_closed",
    "暂时关闭": "temporarily_closed", "装修": "temporarily_closed", "维修中": "temporarily_closed",
    "关闭": "closed", "撤销": "closed", "停用": "closed", "已撤销": "closed", "已停用": "closed",
    "待审": "pending", "审核中": "pending", "新建": "pending",
}

STATION_TYPES = {
    "workers_home": "职工之家",
    "warm_station": "职工暖心驿站",
    "union_station": "工会驿站",
    "other": "其他",
}
_TYPE_ALIASES = {
    "暖心驿站": "warm_station", "户外劳动者服务站点": "union_station",
    "工会户外劳动者服务站点": "union_station", "爱心驿站": "union_station",
    "户外劳动者驿站": "union_station", "职工驿站": "union_station",
}

# Public fields in the order exports and the API use; private ones follow.
FIELDS = (
    "id", "name", "address", "district", "subdistrict", "lon", "lat", "host_union", "host_union_id",
    "station_type", "hours", "hours_text", "facilities", "status", "awards", "synthetic",
    "created_at", "updated_at", "last_verified_at",
)
# Personal data, never public: the manager, the phone, and the note (a 备注 column of a
# union's spreadsheet often names people and phone numbers).
PRIVATE_FIELDS = ("manager", "manager_phone", "note")


@dataclass
class Problem:
    """One thing wrong (or doubtful) with one field."""

    field: str
    message: str
    columns: tuple = ()  # every field the problem is about, when more than one (a duplicate)

    def __str__(self):
        return f"{self.field}: {self.message}"


@dataclass
class CleanResult:
    record: dict
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")


def _vocabulary(labels: dict, aliases: dict) -> dict:
    """Normalised code, label or alias -> code (or tuple of codes), built once."""
    table = {}
    for alias, code in aliases.items():
        table[_key(alias)] = code
    for code, label in labels.items():
        table[_key(label)] = code
        table[_key(code)] = code
    return table


_STATUS_WORDS = _vocabulary(STATUSES, _STATUS_ALIASES)
_TYPE_WORDS = _vocabulary(STATION_TYPES, _TYPE_ALIASES)
_FACILITY_WORDS = _vocabulary(FACILITIES, _FACILITY_ALIASES)


def _lookup(value, table: dict):
    return table.get(_key(value))


def parse_status(value) -> str:
    """Status code from an English code or a Chinese word; ValueError if unknown."""
    if value is None or str(value).strip() == "":
        return "active"
    code = _lookup(value, _STATUS_WORDS)
    if code is None:
        raise ValueError(f"不认识的状态“{value}”（可用：{'、'.join(STATUSES.values())}）")
    return code


def parse_station_type(value) -> str | None:
    """Station type code, ``None`` if the text names no known type."""
    if value is None or str(value).strip() == "":
        return "warm_station"
    return _lookup(value, _TYPE_WORDS)


def parse_facilities(value) -> tuple[list[str], list[str]]:
    """Split a facilities cell; return (codes in canonical order, words not understood)."""
    if value is None:
        return [], []
    items = value if isinstance(value, (list, tuple)) else re.split(
        r"[,，、;；/|\n]+|\s+", unicodedata.normalize("NFKC", str(value)))
    found, unknown = set(), []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        code = _lookup(item, _FACILITY_WORDS)
        if isinstance(code, tuple):
            found.update(code)
        elif code:
            found.add(code)
        else:
            unknown.append(item)
    return [c for c in FACILITIES if c in found], unknown


def facility_label(code: str) -> str:
    return FACILITIES.get(code, code)


_PHONE = re.compile(r"^\+?[\d\-\s()（）]{7,20}$")
_TEXT_LIMITS = {"name": 100, "address": 200, "district": 30, "subdistrict": 50,
                "host_union": 100, "manager": 50, "manager_phone": 30, "note": 500}


# Characters no field may hold (``stations.text``).  Tab and line breaks are allowed only
# in fields where a line break can be meant (an address or opening hours pasted from
# several lines, a facilities list one per line); names, districts, unions and contacts
# are one line.
MULTILINE_FIELDS = frozenset({"address", "hours", "hours_text", "facilities", "note"})
_READ_FIELDS = frozenset(FIELDS + PRIVATE_FIELDS + ("location",))


def control_problem(name: str, value) -> Problem | None:
    """A Problem if the text ``value`` of field ``name`` holds a control character.

    Examples
    --------
    >>> control_problem("name", "驿站\x00").message
    '含有控制字符 U+0000（NUL），请删除后再提交'
    >>> control_problem("address", "一行\n两行") is None
    True
    """
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = control_problem(name, item)
            if problem:
                return problem
        return None
    if not isinstance(value, str):
        return None
    # surrounding white space is trimmed, not stored
    found = forbidden_character(value.strip(), multiline=name in MULTILINE_FIELDS)
    return Problem(name, refusal(found)) if found else None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def clean_station(raw: dict, datum: str = "wgs84", *, partial: bool = False) -> CleanResult:
    """Validate a station typed by a person and turn it into a record.

    Parameters
    ----------
    raw : dict
        Field name -> value as typed (strings, or numbers from XLSX/JSON).
        ``lon``/``lat`` may be replaced by ``location`` ("lon,lat").
    datum : str
        Datum of the coordinates in ``raw``; the record is always WGS-84.
    partial : bool
        For updates: only the fields present in ``raw`` are checked and returned.

    Returns
    -------
    CleanResult
        ``record`` holds only fields that were read successfully; ``errors`` and
        ``warnings`` are lists of :class:`Problem` with Chinese messages.
    """
    out = CleanResult(record={})
    rec, err, warn = out.record, out.errors, out.warnings
    refused = set()

    # Control characters are refused before anything else reads the field.
    for name, value in raw.items():
        problem = control_problem(name, value) if name in _READ_FIELDS else None
        if problem:
            err.append(problem)
            refused.add(name)
    if refused:
        raw = {k: v for k, v in raw.items() if k not in refused}

    def present(name):
        return name not in refused and (not partial or name in raw)

    for name, limit in _TEXT_LIMITS.items():
        if present(name):
            if isinstance(raw.get(name), (list, tuple, dict, set, bool)):
                err.append(Problem(name, "应为文字"))
                continue
            value = _text(raw.get(name))
            if len(value) > limit:
                err.append(Problem(name, f"过长（{len(value)} 字，最多 {limit} 字）"))
            else:
                rec[name] = value or None
    if present("name") and not rec.get("name") and not any(p.field == "name" for p in err):
        err.append(Problem("name", "缺少站点名称"))
    if rec.get("address") is None and present("address"):
        rec["address"] = ""
    phone = rec.get("manager_phone")
    if phone and not _PHONE.match(unicodedata.normalize("NFKC", phone)):
        warn.append(Problem("manager_phone", f"电话“{phone}”看起来不像电话号码"))

    try:
        datum = parse_datum(datum)
    except DatumError as exc:
        err.append(Problem("datum", str(exc)))
        datum = "wgs84"

    if refused & {"lon", "lat", "location"}:
        pass  # already reported
    elif present("lon") or present("lat") or "location" in raw:
        lon = lat = None
        if _text(raw.get("location")) and not (_text(raw.get("lon")) or _text(raw.get("lat"))):
            try:
                lon, lat = parse_lonlat_pair(raw["location"])
            except CoordinateError as exc:
                err.append(Problem("location", f"坐标{exc}"))
        else:
            for name, label in (("lon", "经度"), ("lat", "纬度")):
                value = raw.get(name)
                if value is None or _text(value) == "":
                    err.append(Problem(name, f"缺少{label}"))
                    continue
                try:
                    number = parse_coordinate(value)
                except CoordinateError as exc:
                    err.append(Problem(name, f"{label}{exc}"))
                    continue
                if name == "lon":
                    lon = number
                else:
                    lat = number
        if lon is not None and lat is not None:
            problem = _range_problem(lon, lat)
            if problem:
                err.append(problem)
            else:
                lon, lat = to_wgs84(lon, lat, datum)
                rec["lon"], rec["lat"] = round(lon, 7), round(lat, 7)

    if present("hours"):
        text = _text(raw.get("hours"))
        if text:
            try:
                rec["hours"] = parse_hours(text).to_text()
            except HoursError as exc:
                err.append(Problem("hours", str(exc)))
            else:
                rec["hours_text"] = _typed_hours(text, _text(raw.get("hours_text")), rec["hours"])
        else:
            rec["hours"] = rec["hours_text"] = None
    if present("facilities"):
        codes, unknown = parse_facilities(raw.get("facilities"))
        rec["facilities"] = codes
        if unknown:
            warn.append(Problem("facilities", "不认识的设施已忽略：" + "、".join(unknown)))
    if present("status"):
        try:
            rec["status"] = parse_status(raw.get("status"))
        except ValueError as exc:
            err.append(Problem("status", str(exc)))
    if _text(raw.get("last_verified_at")):
        value = raw["last_verified_at"]
        try:
            when = value if isinstance(value, datetime) else datetime.fromisoformat(
                unicodedata.normalize("NFKC", _text(value)).replace("/", "-").replace(" ", "T"))
            rec["last_verified_at"] = when.isoformat(timespec="seconds") if (
                when.hour or when.minute or when.second) else when.date().isoformat()
        except ValueError:
            err.append(Problem("last_verified_at", f"核验时间“{_text(value)}”应为日期，如 2026-11-24"))
    if "synthetic" in raw:
        rec["synthetic"] = _text(raw.get("synthetic")).lower() in ("1", "true", "yes", "是", "y")
    if present("station_type"):
        code = parse_station_type(raw.get("station_type"))
        if code is None:
            warn.append(Problem("station_type",
                                f"不认识的站点类型“{_text(raw.get('station_type'))}”，记为“其他”"))
            code = "other"
        rec["station_type"] = code
    return out


def _typed_hours(text: str, typed: str, parsed: str) -> str | None:
    """The hours as the organiser wrote them, kept beside the parsed form.

    ``text`` is what the hours field held; ``typed`` an explicit ``hours_text`` (an
    export carries both columns: the machine form and the words), kept when it means
    the same hours.  Text that already is the machine form keeps nothing: it would
    show riders code.
    """
    if typed and typed != text and len(typed) <= 300:
        try:
            if parse_hours(typed).to_text() == parsed:
                return typed
        except HoursError:
            pass
    return None if text == parsed else text


def _range_problem(lon: float, lat: float) -> Problem | None:
    if not -90 <= lat <= 90:
        hint = "（经度和纬度是否填反了？）" if -90 <= lon <= 90 else ""
        return Problem("lat", f"纬度 {lat} 超出 −90..90 的范围{hint}")
    if not -180 <= lon <= 180:
        return Problem("lon", f"经度 {lon} 超出 −180..180 的范围")
    return None
