"""A weekly opening-hours schedule: the value, its texts and its queries.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["HoursError", "OpeningHours"]

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

    def week_intervals(self) -> tuple[tuple[int, int], ...]:
        """Open intervals as (start, end) minutes from Monday 00:00 (end excluded),
        merged, with the weeks before and after laid beside: a minute of the week m
        (0 <= m < 7 × 1440) is open exactly when some start <= m < end."""
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
