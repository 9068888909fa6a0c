"""Opening hours of service stations: parse, normalise, display and query.

Station opening hours arrive as free text typed by people ("周一至周五
8:00-20:00，周末 9:00-17:00", "24小时", "Mo-Fr 08:00-20:00; Sa off", with
full-width digits and every kind of dash).  :func:`parse_hours` turns such text
into an :class:`OpeningHours` value, or raises :class:`HoursError` naming the
part it could not read; nothing in the input is silently dropped.

The model is a week of seven days (Monday = 0 ... Sunday = 6).  Each day holds
zero or more spans ``(start, end)`` in minutes after local midnight in
Asia/Shanghai.  ``end <= start`` means the span runs past midnight into the next
day (``(1320, 360)`` is 22:00 until 06:00 the following morning) and
``(0, 1440)`` is the whole day.  A day without spans is closed.

:meth:`OpeningHours.to_text` gives a canonical OpenStreetMap-style text
(``Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00``) that parses back to an equal value,
and :meth:`OpeningHours.to_zh` a Chinese text for display.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["HoursError", "OpeningHours", "is_open_now", "parse_hours"]

_TZ = ZoneInfo("Asia/Shanghai")
_DAY_MIN = 1440
_WEEK_MIN = 7 * _DAY_MIN
_WHOLE_DAY = (0, _DAY_MIN)
_EXAMPLE = "应为类似“周一至周五 08:00-20:00”的写法"

_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_ZH_DAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class HoursError(ValueError):
    """Opening hours that cannot be read or are invalid.

    The message is in Chinese and quotes the offending fragment, e.g.
    ``无法识别的开放时间 “周八 08:00-20:00”：不认识“周八”，应为类似“周一至周五
    08:00-20:00”的写法``.

    Parameters
    ----------
    message : str
        The full message.
    text : str, optional
        The whole input text, when the error comes from parsing.
    fragment : str, optional
        The part of ``text`` that is wrong (empty when the text is empty).
    """

    def __init__(self, message: str, text: str | None = None, fragment: str | None = None):
        super().__init__(message)
        self.text = text
        self.fragment = fragment


# ---------------------------------------------------------------------------
# The value
# ---------------------------------------------------------------------------

def _normalise_day(spans: Any, day: int) -> tuple[tuple[int, int], ...]:
    """Validate, sort and merge one day's spans into canonical form."""
    if isinstance(spans, (str, bytes)) or not hasattr(spans, "__iter__"):
        raise HoursError(f"开放时间数据无效：第 {day + 1} 天应为时段列表，却是 {spans!r}")
    intervals = []
    for span in spans:
        try:
            start, end = span
        except (TypeError, ValueError):
            raise HoursError(f"开放时间数据无效：时段应为 (开始分钟, 结束分钟)，却是 {span!r}") from None
        for value in (start, end):
            if isinstance(value, bool) or not isinstance(value, int):
                raise HoursError(f"开放时间数据无效：时段 {span!r} 中的分钟数应为整数")
        if not (0 <= start < _DAY_MIN and 0 <= end <= _DAY_MIN):
            raise HoursError(f"开放时间数据无效：时段 {span!r} 超出 0–1440 分钟")
        # A span is the half-open interval [start, stop) with stop up to a day later.
        intervals.append((start, end if end > start else end + _DAY_MIN))
    intervals.sort()
    merged: list[list[int]] = []
    for start, stop in intervals:
        if merged and start <= merged[-1][1] and max(stop, merged[-1][1]) - merged[-1][0] <= _DAY_MIN:
            merged[-1][1] = max(stop, merged[-1][1])
        else:
            merged.append([start, stop])
    return tuple((start, stop if stop <= _DAY_MIN else stop - _DAY_MIN) for start, stop in merged)


def _to_naive_local(at: datetime) -> datetime:
    """Wall-clock time in Asia/Shanghai, without tzinfo."""
    if not isinstance(at, datetime):
        raise TypeError(f"需要 datetime，却是 {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        return at
    return at.astimezone(_TZ).replace(tzinfo=None)


def _fmt_time(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_runs(days: list[int]) -> list[list[int]]:
    """Sorted day numbers grouped into runs of consecutive days."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


@functools.lru_cache(maxsize=8192)
def _week_intervals(days) -> tuple[tuple[int, int], ...]:
    """Three copies of the week (previous, current, next) laid out and merged, so an
    interval that crosses a week end is whole; cached, as a search asks it often."""
    base = []
    for day, spans in enumerate(days):
        for start, end in spans:
            stop = end if end > start else end + _DAY_MIN
            base.append((day * _DAY_MIN + start, day * _DAY_MIN + stop))
    laid = sorted((a + k * _WEEK_MIN, b + k * _WEEK_MIN) for k in (-1, 0, 1) for a, b in base)
    merged: list[list[int]] = []
    for a, b in laid:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)


@dataclass(frozen=True)
class OpeningHours:
    """A weekly opening-hours schedule in Asia/Shanghai local time.

    The constructor normalises its input: spans are sorted, overlapping or
    touching spans of the same day are merged (as long as the result stays
    within 24 hours), ``(s, 0)`` becomes ``(s, 1440)`` and ``(0, 0)`` the
    whole day.  ``always`` is derived: it is true exactly when every day is
    ``((0, 1440),)``; passing ``always=True`` makes every day whole.  Two
    values describing the same schedule in the same way therefore compare
    equal, which is what :func:`parse_hours` relies on.

    Parameters
    ----------
    days : sequence of 7 sequences of (int, int)
        Spans for Monday .. Sunday, in minutes after local midnight.  ``end
        <= start`` means the span ends on the next day; ``(0, 1440)`` is the
        whole day.  Default: closed every day.
    always : bool
        Open around the clock, every day.

    Raises
    ------
    HoursError
        When ``days`` is not seven lists of valid spans.

    Examples
    --------
    >>> h = OpeningHours(days=(((480, 1200),),) * 5 + ((), ()))
    >>> h.to_text()
    'Mo-Fr 08:00-20:00'
    >>> h.to_zh()
    '周一至周五 08:00-20:00；周六、周日休息'
    """

    days: tuple[tuple[tuple[int, int], ...], ...] = field(default=((),) * 7)
    always: bool = False

    def __post_init__(self) -> None:
        if self.always:
            days = ((_WHOLE_DAY,),) * 7
        else:
            raw = self.days
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__len__") or len(raw) != 7:
                raise HoursError(f"开放时间数据无效：days 应包含 7 天（周一至周日），却是 {raw!r}")
            days = tuple(_normalise_day(spans, i) for i, spans in enumerate(raw))
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "always", all(d == (_WHOLE_DAY,) for d in days))

    # -- queries ----------------------------------------------------------

    @property
    def is_24h(self) -> bool:
        """bool: True when open around the clock every day."""
        return self.always

    def _intervals(self) -> tuple[tuple[int, int], ...]:
        """Open intervals in minutes from Monday 00:00 of the current week (cached)."""
        return _week_intervals(self.days)

    def is_open(self, at: datetime) -> bool:
        """Whether the station is open at a moment.

        Parameters
        ----------
        at : datetime.datetime
            Naive datetimes are taken as Asia/Shanghai wall-clock time; aware
            ones are converted to Asia/Shanghai.  Spans include their start
            and exclude their end (open at 08:00, closed at 20:00 for
            08:00-20:00).

        Returns
        -------
        bool
        """
        local = _to_naive_local(at)
        if self.always:
            return True
        t = self._week_seconds(local)
        return any(a * 60 <= t < b * 60 for a, b in self._intervals())

    @staticmethod
    def _week_seconds(local: datetime) -> float:
        return (local.weekday() * _DAY_MIN + local.hour * 60 + local.minute) * 60 \
            + local.second + local.microsecond / 1e6

    def next_change(self, at: datetime) -> datetime | None:
        """When the station next closes (if open at ``at``) or opens (if closed).

        Parameters
        ----------
        at : datetime.datetime
            Naive (Asia/Shanghai wall clock) or aware.

        Returns
        -------
        datetime.datetime or None
            Naive wall-clock time for a naive ``at``; an aware datetime in
            Asia/Shanghai for an aware ``at``.  None when the schedule never
            changes (always open, or never open).  The answer is always less
            than eight days after ``at``.
        """
        local = _to_naive_local(at)
        if self.always:
            return None
        intervals = self._intervals()
        if not intervals or any(a <= 0 and b >= 2 * _WEEK_MIN for a, b in intervals):
            return None
        t = self._week_seconds(local)
        week_start = datetime(local.year, local.month, local.day) - timedelta(days=local.weekday())
        boundary = None
        for a, b in intervals:
            if a * 60 <= t < b * 60:
                boundary = b
                break
            if a * 60 > t:
                boundary = a
                break
        if boundary is None:  # cannot happen: the next week's copy is always ahead
            return None
        result = week_start + timedelta(minutes=boundary)
        if at.tzinfo is not None and at.utcoffset() is not None:
            result = result.replace(tzinfo=_TZ)
        return result

    # -- texts ------------------------------------------------------------

    def _groups(self) -> list[tuple[list[int], tuple[tuple[int, int], ...]]]:
        """Open days grouped by identical schedule, ordered by first day."""
        groups: dict[tuple, list[int]] = {}
        for day, spans in enumerate(self.days):
            if spans:
                groups.setdefault(spans, []).append(day)
        return sorted(((days, spans) for spans, days in groups.items()), key=lambda g: g[0][0])

    def to_text(self) -> str:
        """Canonical OpenStreetMap ``opening_hours``-style text.

        Returns
        -------
        str
            E.g. ``Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00``,
            ``Mo-Fr 08:00-12:00,14:00-18:00``, ``Mo-Su 22:00-06:00``,
            ``24/7`` or ``off`` (never open).  Closed days are left out.
            :func:`parse_hours` reads it back to an equal value.
        """
        if self.always:
            return "24/7"
        rules = []
        for days, spans in self._groups():
            parts = []
            for run in _day_runs(days):
                if len(run) >= 3:
                    parts.append(f"{_OSM_DAYS[run[0]]}-{_OSM_DAYS[run[-1]]}")
                else:
                    parts.extend(_OSM_DAYS[d] for d in run)
            times = ",".join(f"{_fmt_time(s)}-{_fmt_time(e)}" for s, e in spans)
            rules.append(f"{','.join(parts)} {times}")
        return "; ".join(rules) if rules else "off"

    def to_zh(self) -> str:
        """Chinese text for display.

        Returns
        -------
        str
            E.g. ``周一至周五 08:00-20:00；周六、周日 09:00-17:00``,
            ``每天 22:00-次日06:00``, ``周一至周五 24小时；周六、周日休息``,
            ``24小时`` or ``不开放``.  Closed days are named when some days
            are open.  :func:`parse_hours` reads it back to an equal value.
        """
        if self.always:
            return "24小时"

        def zh_days(days: list[int]) -> str:
            if len(days) == 7:
                return "每天"
            parts = []
            for run in _day_runs(days):
                if len(run) >= 3:
                    parts.append(f"{_ZH_DAYS[run[0]]}至{_ZH_DAYS[run[-1]]}")
                else:
                    parts.extend(_ZH_DAYS[d] for d in run)
            return "、".join(parts)

        def zh_span(start: int, end: int) -> str:
            if (start, end) == _WHOLE_DAY:
                return "24小时"
            if end <= start:
                return f"{_fmt_time(start)}-次日{_fmt_time(end)}"
            return f"{_fmt_time(start)}-{_fmt_time(end)}"

        groups = self._groups()
        if not groups:
            return "不开放"
        rules = [f"{zh_days(days)} {'，'.join(zh_span(s, e) for s, e in spans)}" for days, spans in groups]
        closed = [d for d in range(7) if not self.days[d]]
        if closed:
            rules.append(f"{zh_days(closed)}休息")
        return "；".join(rules)

    def __str__(self) -> str:
        return self.to_text()

    # -- JSON -------------------------------------------------------------

    def to_json(self) -> dict:
        """Plain, JSON-serialisable dict.

        Returns
        -------
        dict
            ``{"always": bool, "days": [[[start, end], ...] x 7]}``.
        """
        return {"always": self.always, "days": [[[s, e] for s, e in spans] for spans in self.days]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "OpeningHours":
        """Rebuild from :meth:`to_json` output.

        Parameters
        ----------
        data : mapping
            With ``days`` (seven lists of ``[start, end]``) and optionally
            ``always``; ``{"always": true}`` alone is enough.

        Returns
        -------
        OpeningHours

        Raises
        ------
        HoursError
            When the data has the wrong shape or values.
        """
        if not isinstance(data, Mapping):
            raise HoursError(f"开放时间数据无效：应为对象（dict），却是 {type(data).__name__}")
        always = data.get("always", False)
        if not isinstance(always, bool):
            raise HoursError(f"开放时间数据无效：always 应为 true/false，却是 {always!r}")
        if always:
            return cls(always=True)
        if "days" not in data:
            raise HoursError("开放时间数据无效：缺少 days")
        days = data["days"]
        if not isinstance(days, (list, tuple)):
            raise HoursError(f"开放时间数据无效：days 应为列表，却是 {days!r}")
        return cls(days=tuple(tuple(tuple(span) if isinstance(span, (list, tuple)) else span
                                    for span in spans) if isinstance(spans, (list, tuple)) else spans
                              for spans in days))


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_ZH_NUM = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
           "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_EN_DAYS = (("monday", "mon", "mo"), ("tuesday", "tues", "tue", "tu"),
            ("wednesday", "wed", "we"), ("thursday", "thurs", "thur", "thu", "th"),
            ("friday", "fri", "fr"), ("saturday", "sat", "sa"), ("sunday", "sun", "su"))
_EN_DAY_INDEX = {name: i for i, names in enumerate(_EN_DAYS) for name in names}
_GROUPS = {"每天": range(7), "每日": range(7), "天天": range(7), "全周": range(7),
           "全年无休": range(7), "daily": range(7),
           "工作日": range(5), "weekdays": range(5), "weekday": range(5),
           "周末": (5, 6), "週末": (5, 6), "双休日": (5, 6), "周六日": (5, 6), "周六周日": (5, 6), "weekends": (5, 6), "weekend": (5, 6)}

_NOT_LETTER = r"(?![a-z])"
_OPEN_SUFFIX = r"(?:开放|营业|服务|值守|运营|营运)?"
_TOKEN_PATTERNS = [
    ("ALWAYS", r"(?:全天候?\s*)?(?:24\s*(?:小时|hours?" + _NOT_LETTER + r"|hrs?" + _NOT_LETTER
               + r"|h" + _NOT_LETTER + r")|24\s*/\s*7(?![0-9])|7\s*[x×*]\s*24(?:\s*(?:小时|h"
               + _NOT_LETTER + r"))?)" + _OPEN_SUFFIX + r"|全天候?" + _OPEN_SUFFIX),
    ("OFF", r"(?:off|closed)" + _NOT_LETTER + r"|不开放|暂停开放|停止开放|暂停服务|不营业|休息|休馆|闭馆"
            r"|闭站|闭店|关闭|关门|停业|歇业|公休"),
    ("GROUP", "|".join(sorted((re.escape(k) + (_NOT_LETTER if k.isascii() else "") for k in _GROUPS),
                              key=len, reverse=True))),
    ("DAY", r"每?(?:周|週|星期|礼拜|禮拜)[一二三四五六日天七1-7]|(?:"
            + "|".join(sorted(_EN_DAY_INDEX, key=len, reverse=True)) + ")" + _NOT_LETTER),
    ("TIME", r"(?P<next>次日|翌日|第二天|隔天)?\s*"
             r"(?P<ap>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜间|夜里|早|晚)?\s*"
             r"(?:(?P<h>[0-9]+):(?P<m>[0-9]+)|(?P<h2>[0-9]+)\s*[点點时時]"
             r"(?:(?P<half>半)|整|(?P<m2>[0-9]+)分?)?)"),
    ("BARE", r"[一二三四五六日天]"),
    ("RANGE", r"[-~‐‑–—―−〜]+|至|到"),
    ("LIST", r"[,、&/+]|以及|和|及|与"),
    ("SEP", r"[;。|]"),
    ("COLON", r":"),
]
_TOKEN_RES = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _TOKEN_PATTERNS]
_SPACE_RE = re.compile(r"\s+")
_JUNK_RE = re.compile(r"[0-9]+[^\s;,、]*|[^\s;,、0-9]+")
_AM = {"凌晨", "早上", "早晨", "上午", "早"}
_PM = {"下午", "傍晚", "晚上", "夜间", "夜里", "晚"}


@dataclass
class _Tok:
    kind: str
    value: Any
    start: int  # index in the normalised text
    end: int


class _Parser:
    def __init__(self, text: str):
        self.text = text
        chars, origin = [], []
        for i, ch in enumerate(text):
            norm = unicodedata.normalize("NFKC", ch)
            chars.append(norm)
            origin.extend([i] * len(norm))
        self.norm = "".join(chars)
        self.origin = origin
        self.toks: list[_Tok] = []
        self.i = 0

    # -- errors -------------------------------------------------------------

    def frag(self, start: int, end: int) -> str:
        if start >= end:
            return ""
        return self.text[self.origin[start]:self.origin[end - 1] + 1]

    def fail(self, start: int, end: int, reason: str) -> HoursError:
        fragment = self.frag(start, end)
        return HoursError(f"无法识别的开放时间 “{self.text}”：{reason.format(f=fragment)}",
                          text=self.text, fragment=fragment)

    # -- tokens -------------------------------------------------------------

    def tokenize(self) -> None:
        text, pos = self.norm, 0
        while pos < len(text):
            space = _SPACE_RE.match(text, pos)
            if space:
                pos = space.end()
                continue
            for kind, regex in _TOKEN_RES:
                m = regex.match(text, pos)
                if m and m.end() > pos:
                    self.toks.append(_Tok(kind, self.token_value(kind, m), pos, m.end()))
                    pos = m.end()
                    break
            else:
                junk = _JUNK_RE.match(text, pos)
                end = junk.end() if junk else pos + 1
                raise self.fail(pos, end, "不认识“{f}”，" + _EXAMPLE)

    def token_value(self, kind: str, m: re.Match) -> Any:
        word = m.group(0).lower()
        if kind == "GROUP":
            return tuple(_GROUPS[word])
        if kind == "DAY":
            return _ZH_NUM[word[-1]] if word[-1] in _ZH_NUM else _EN_DAY_INDEX[word]
        if kind == "BARE":
            return _ZH_NUM[word]
        if kind == "TIME":
            return self.time_value(m)
        return word

    def time_value(self, m: re.Match) -> tuple[int, bool]:
        bad = "时间“{f}”无效，应为 00:00 至 24:00 之间的时刻，如“08:00”或“8:30”"
        if m.group("h") is not None:
            hour_s, minute_s = m.group("h"), m.group("m")
            if len(hour_s) > 2 or len(minute_s) != 2:
                raise self.fail(m.start(), m.end(), bad)
            hour, minute = int(hour_s), int(minute_s)
        else:
            hour_s = m.group("h2")
            if len(hour_s) > 2 or (m.group("m2") is not None and len(m.group("m2")) > 2):
                raise self.fail(m.start(), m.end(), bad)
            hour = int(hour_s)
            minute = 30 if m.group("half") else int(m.group("m2") or 0)
        ap = m.group("ap")
        if ap in _AM:
            if hour > 12:
                raise self.fail(m.start(), m.end(), "时间“{f}”自相矛盾：上午/早上的钟点不应大于 12")
            if hour == 12 and ap == "凌晨":
                hour = 0
        elif ap in _PM:
            if 1 <= hour <= 11:
                hour += 12
            elif hour == 12 and ap != "下午":
                hour = 24
        elif ap == "中午" and 1 <= hour <= 5:
            hour += 12
        if hour > 24 or minute > 59 or (hour == 24 and minute):
            raise self.fail(m.start(), m.end(), bad)
        return hour * 60 + minute, m.group("next") is not None

    # -- grammar --------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def kind(self, ahead: int = 0) -> str | None:
        tok = self.peek(ahead)
        return tok.kind if tok else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> OpeningHours:
        if not self.text.strip():
            raise HoursError(f"开放时间为空，{_EXAMPLE}，或“24小时”", text=self.text, fragment="")
        self.tokenize()
        week: list[tuple[tuple[int, int], ...]] = [()] * 7
        some_days_only = False
        first = True
        while self.i < len(self.toks):
            if not first:
                while self.kind() in ("SEP", "LIST"):
                    self.take()
                if self.i >= len(self.toks):
                    break
            first = False
            days, spans = self.parse_rule()
            some_days_only = some_days_only or set(days) != set(range(7))
            for day in days:  # later rules replace earlier ones for their days
                week[day] = spans
        if some_days_only and not any(week):
            # "周日闭馆" alone: the open days and their hours are missing.
            raise self.fail(0, len(self.norm), "“{f}”只写了休息日，缺少开放的日期和时间，" + _EXAMPLE)
        return OpeningHours(days=tuple(week))

    def parse_rule(self) -> tuple[list[int], tuple[tuple[int, int], ...]]:
        tok = self.peek()
        if tok.kind in ("DAY", "GROUP"):
            days, days_start, days_end = self.parse_days()
            if self.kind() == "COLON" or (self.kind() == "LIST"
                                          and self.kind(1) in ("TIME", "ALWAYS", "OFF")):
                self.take()
        elif tok.kind in ("TIME", "ALWAYS", "OFF"):
            days, days_start, days_end = list(range(7)), tok.start, tok.start
        else:
            raise self.fail(tok.start, tok.end, "此处不应出现“{f}”，" + _EXAMPLE)

        body = self.peek()
        if body is None or body.kind not in ("TIME", "ALWAYS", "OFF"):
            if days_end > days_start:
                raise self.fail(days_start, days_end, "“{f}”后缺少开放时间，" + _EXAMPLE)
            raise self.fail(body.start, body.end, "此处不应出现“{f}”，" + _EXAMPLE)
        if body.kind == "ALWAYS":
            self.take()
            return days, (_WHOLE_DAY,)
        if body.kind == "OFF":
            self.take()
            return days, ()
        return days, self.parse_spans()

    def parse_days(self) -> tuple[list[int], int, int]:
        days: list[int] = []
        start = self.peek().start
        while True:
            tok = self.take()
            if tok.kind == "GROUP":
                days.extend(tok.value)
            elif self.kind() == "RANGE":
                if self.kind(1) in ("DAY", "BARE"):
                    self.take()
                    last = self.take().value
                    first = tok.value
                    days.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
                else:
                    dash = self.peek()
                    raise self.fail(tok.start, dash.end,
                                    "日期范围“{f}”不完整，应为类似“周一至周五”或“Mo-Fr”的写法")
            else:
                days.append(tok.value)
            if self.kind() == "LIST" and self.kind(1) in ("DAY", "GROUP", "BARE"):
                self.take()
            elif self.kind() not in ("DAY", "GROUP"):
                break
        return days, start, self.toks[self.i - 1].end

    def parse_spans(self) -> tuple[tuple[int, int], ...]:
        spans = []
        while True:
            first = self.take()
            start, next_day = first.value
            if next_day:
                raise self.fail(first.start, first.end, "开始时间“{f}”不应带“次日”")
            if start == _DAY_MIN:
                raise self.fail(first.start, first.end, "开始时间不能是“{f}”，请写“00:00”")
            if self.kind() != "RANGE":
                raise self.fail(first.start, first.end,
                                "时间段“{f}”缺少结束时间，应为类似“08:00-20:00”的写法")
            dash = self.take()
            if self.kind() != "TIME":
                raise self.fail(first.start, dash.end,
                                "时间段“{f}”缺少结束时间，应为类似“08:00-20:00”的写法")
            last = self.take()
            end, end_next_day = last.value
            if end_next_day and (end > start or end == _DAY_MIN):
                raise self.fail(first.start, last.end, "时间段“{f}”超过 24 小时")
            spans.append((start, end))
            if self.kind() == "LIST" and self.kind(1) == "TIME":
                self.take()
            elif self.kind() != "TIME":
                return tuple(spans)


@functools.lru_cache(maxsize=8192)
def parse_hours(text: str) -> OpeningHours:
    """Read opening hours written in Chinese or OpenStreetMap style.

    Full-width characters are folded first (``０８：００－２０：００``).  The
    text is a sequence of rules separated by ``;``/``；``/``，``/``、``/``。``
    or just spaces; each rule is an optional day selector followed by time
    spans, a whole-day word or a closed word.  A rule without days applies to
    every day.  A later rule replaces earlier ones for the days it names
    (``Mo-Fr 08:00-20:00; We 10:00-12:00`` leaves Wednesday 10-12 only).
    Days no rule names are closed.

    Accepted pieces:

    * days: ``周一``/``星期一``/``礼拜一``/``週一``/``周1``, ``周日``/``周天``,
      ``Mo``/``Mon``/``Monday`` ...; ranges with ``至 到 - ~ ～ —``
      (``周一至周五``, ``周一至五``, ``Mo-Fr``, wrapping ``周六至周一``); lists
      with ``、 , 和 及`` (``周一、三、五``, ``Sa,Su``); groups ``每天 每日
      天天 全周 工作日 周末 双休日``; an optional ``:`` after the days.
    * times: ``08:00``, ``8:00``, ``24:00`` (end of day), ``8点``, ``8点半``,
      ``8点30分``, ``20时``, with optional ``上午/下午/晚上/中午/凌晨``
      and ``次日`` before an end time; spans ``08:00-20:00``, several joined
      by ``,``/``，``/``、`` or spaces; ``end <= start`` runs past midnight.
    * whole day: ``24小时``, ``24h``, ``24/7``, ``7×24小时``, ``全天``,
      ``全天24小时``, ``全天候`` (optionally followed by ``开放``/``营业``),
      or ``00:00-24:00``.
    * closed: ``off``, ``closed``, ``休息``, ``闭馆``, ``关闭``, ``不开放``, ...

    Parameters
    ----------
    text : str
        The text to read.

    Returns
    -------
    OpeningHours

    Raises
    ------
    HoursError
        For empty text, unknown words (``周八``), invalid times (``25:00``,
        ``08:70``), days without a time, a time without an end, anything
        left over, or only closed days (``周日闭馆`` alone; ``off`` or
        ``不开放`` alone mean never open).  The message quotes the offending
        fragment.

    Examples
    --------
    >>> parse_hours("周一到周五 8:00-20:00，周末 9:00-17:00").to_text()
    'Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00'
    >>> parse_hours("24小时").to_zh()
    '24小时'
    """
    if not isinstance(text, str):
        raise TypeError(f"开放时间应为字符串，却是 {type(text).__name__}")
    return _Parser(text).parse()


def is_open_now(hours: OpeningHours | str, at: datetime | None = None) -> bool:
    """Whether a station is open now (or at ``at``).

    Parameters
    ----------
    hours : OpeningHours or str
        A schedule, or text that :func:`parse_hours` reads.
    at : datetime.datetime, optional
        The moment to check; default the current time in Asia/Shanghai.

    Returns
    -------
    bool

    Raises
    ------
    HoursError
        When ``hours`` is text that cannot be read.
    """
    if isinstance(hours, str):
        hours = parse_hours(hours)
    return hours.is_open(datetime.now(_TZ) if at is None else at)
