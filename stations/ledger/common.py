"""Small helpers every ledger module shares: dates, counts, text, who may act for a station."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

from ..storage import TZ, StationNotFound, get_station
from ..text import forbidden_character, refusal
from ..unions.scope import EVERYTHING, Scope, in_scope, scope_label, scope_of
from .codes import NOTE_MAX, LedgerError

__all__ = ["today", "parse_date", "parse_count", "clean_note", "station_for", "keeper_scope",
           "month_range", "EARLIEST", "KEEPER_ROLES"]

KEEPER_ROLES = ("admin", "union")  # who keeps ledgers and records meetings

EARLIEST = date(2015, 1, 1)  # before the first stations: a typo, not a ledger day
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_INTEGER = re.compile(r"[+-]?\d{1,12}(\.0*)?")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\.0*)?$")  # 20261105, also a number cell
_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})[日号]?$")  # 11月3日: the year from elsewhere
_WEEKDAY = re.compile(r"\s*[(（]?(?:星期|周|礼拜)[一二三四五六日天][)）]?$")  # 2026/11/06 星期五


def today() -> date:
    """Today's date in Beijing."""
    return datetime.now(TZ).date()


def parse_date(value, field: str = "date", *, label: str = "日期", not_after: date | None = None,
               earliest: date = EARLIEST, iso: bool = False, year: int | None = None) -> date:
    """A date from ``YYYY-MM-DD`` (also 2026/3/5, 2026年3月5日, 20260305, 2026/03/05 星期四,
    a spreadsheet date, and 3月5日 when ``year`` is known — from a file's title or the
    month chosen for an import; only ``YYYY-MM-DD`` text when ``iso``, as in the API);
    LedgerError for anything else, a day that does not exist, or one after ``not_after``."""
    if iso and not (isinstance(value, str) and _ISO.match(value)):
        shown = value[:20] if isinstance(value, str) else type(value).__name__
        raise LedgerError(f"{label}“{shown}”应写作 YYYY-MM-DD，例如 2026-03-05", field)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
        if not text:
            raise LedgerError(f"请填写{label}（年-月-日，例如 2026-03-05）", field)
        match = _match_date(text, year)
        if match == "no year":
            raise LedgerError(f"{label}“{text[:20]}”没有年份：请写作 年-月-日（例如 2026-03-05），"
                              "或在表格标题写明年月（例如“2026年3月服务台账”）、导入时选择台账月份", field)
        if not match:
            raise LedgerError(f"{label}“{text[:20]}”看不懂：应写作 年-月-日，例如 2026-03-05"
                              "（也认 2026/3/5、2026年3月5日、20260305，标题写明年份时也认 3月5日）", field)
        year_text, month_text, day_text = match
        if not 1 <= int(month_text) <= 12:
            raise LedgerError(f"{label}“{text[:20]}”不存在（月份应为 1 到 12）", field)
        try:
            day = date(int(year_text), int(month_text), int(day_text))
        except ValueError:
            raise LedgerError(f"{label}“{text[:20]}”不存在（这个月没有这一天）", field) from None
    if not_after is not None and day > not_after:
        raise LedgerError(f"{label} {day.isoformat()} 还没到：不能登记未来的日子", field)
    if day < earliest:
        raise LedgerError(f"{label} {day.isoformat()} 太早了（最早 {earliest.isoformat()}）", field)
    return day


def _match_date(text: str, year: int | None):
    """(year, month, day) as text from the forms ``parse_date`` reads; "no year" for 3月5日
    without a ``year``; None when unreadable."""
    text = _WEEKDAY.sub("", text)
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", text):
        text = text[:10]
    match = _DATE.match(text) or _COMPACT.match(text)
    if match:
        return match[1], match[2], match[3]
    short = _MONTH_DAY.match(text)
    if short:
        return (str(year), short[1], short[2]) if year else "no year"
    return None


def parse_count(value, field: str, label: str, *, maximum: int, strict: bool = False) -> int:
    """A whole number 0..maximum.  ``strict`` (JSON): only integers; forms and files may
    send text (full-width digits too); empty is 0."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 9 and not strict:
        number = int(value)  # the common case of a file or a form: plain digits
        if number <= maximum:
            return number
    if isinstance(value, bool) or (strict and value is None):
        raise LedgerError(f"{label}应是 0 到 {maximum:,} 的整数", field)
    if value is None or (not strict and isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, float) and value.is_integer() and not strict:
        value = int(value)
    if isinstance(value, str) and not strict:
        text = unicodedata.normalize("NFKC", value).strip().replace(",", "")
        if _INTEGER.fullmatch(text):
            value = int(float(text)) if "." in text else int(text)
        else:
            raise LedgerError(f"{label}“{value.strip()[:20]}”不是整数", field)
    if not isinstance(value, int):
        raise LedgerError(f"{label}应是 0 到 {maximum:,} 的整数", field)
    if value < 0:
        raise LedgerError(f"{label}不能是负数（{value}）", field)
    if value > maximum:
        raise LedgerError(f"{label} {value:,} 不合常理：一项最多 {maximum:,}", field)
    return value


def clean_note(value, field: str = "note", *, limit: int = NOTE_MAX) -> str | None:
    """A note as stored: NFC, trimmed, no control characters, at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise LedgerError("备注应是文字", field)
    text = unicodedata.normalize("NFC", value).strip()
    found = forbidden_character(text)
    if found:
        raise LedgerError(f"备注{refusal(found)}", field)
    if len(text) > limit:
        raise LedgerError(f"备注最多 {limit} 字（现有 {len(text)} 字）", field)
    return text or None


def keeper_scope(db, user, scope: Scope | None = None) -> Scope:
    """The part of the union tree whose stations ``user`` keeps ledgers for: ``scope``
    when the caller already has it (a request's ``g.scope``), else ``scope_of`` the user."""
    return scope if scope is not None else scope_of(db, user) if user is not None else EVERYTHING


def station_for(db, station_id, user, *, field: str = "station_id", scope: Scope | None = None) -> dict:
    """The station, if ``user`` may keep its ledger: LedgerError 404 (no such station) or
    403 (outside the user's part of the union tree: a ``union`` user keeps its own
    union's stations, an admin those of its union and the unions below it)."""
    try:
        station = get_station(db, station_id)
    except StationNotFound:
        raise LedgerError(f"没有编号为 {str(station_id)[:20]} 的站点", field, 404) from None
    if user is None or user["role"] not in KEEPER_ROLES:
        raise LedgerError("只有管理员和基层工会账号可以登记台账", field, 403)
    scope = keeper_scope(db, user, scope)
    if not in_scope(db, scope, station.get("host_union_id")):
        raise LedgerError(f"“{station['name']}”属于{station['host_union'] or '未登记工会'}，"
                          f"只能登记{'本工会（' + scope.name + '）' if scope.exact else scope_label(scope)}的站点",
                          field, 403)
    return station


def month_range(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


def days_back(end: date, days: int) -> date:
    return end - timedelta(days=days - 1)
