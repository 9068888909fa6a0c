"""Opening hours against China's calendar: 工作日, statutory holidays, 调休, seasons.

"工作日" in China means the official working days: statutory holidays (春节, 国庆…)
are days off even on a weekday, and make-up working days (调休, e.g. Saturday
2026-10-10) are working days although they fall on a weekend.  Organisers also
write remarks — （法定节假日除外）, 节假日休息, （节假日正常开放） — and seasonal
hours (夏季（5-9月）8:00-19:00，冬季（10-4月）8:30-18:00).

A :class:`Timetable` answers the same questions as a weekly
:class:`~stations.hours.week.OpeningHours` (``is_open``, ``next_change``,
``is_24h``, ``to_zh``, ``to_text``).  The calendar comes from the maintained
``chinese-calendar`` package; for a date beyond the years it knows, a timetable
that needs the calendar answers ``None`` (unknown) rather than guessing, and
:func:`calendar_years` says which years are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .week import _DAY_MIN, _TZ, OpeningHours

__all__ = ["BeyondCalendar", "Season", "Timetable", "calendar_years", "china_day"]

HOLIDAYS_CLOSED = "closed"  # （法定节假日除外）, 节假日休息
HOLIDAYS_OPEN = "open"      # （节假日正常开放）: the weekly hours whatever the calendar says


class BeyondCalendar(LookupError):
    """A date outside the years the holiday calendar knows."""

    def __init__(self, day: date):
        first, last = calendar_years()
        super().__init__(f"{day.year} 年的法定节假日和调休安排尚未收录（已收录 {first}–{last} 年）")
        self.day = day


def calendar_years() -> tuple[int, int]:
    """(first, last) year of China's holiday calendar that ``chinese-calendar`` knows."""
    from chinese_calendar import constants

    return min(constants.holidays).year, max(max(constants.holidays), max(constants.workdays)).year


def china_day(day: date) -> tuple[bool, bool]:
    """(working day, statutory holiday) for a date in China.

    A working day is Monday–Friday that is not a holiday, or a make-up working day
    (调休).  A statutory holiday is a day off that belongs to a named holiday
    (weekends inside a holiday period count).  Raises BeyondCalendar outside the
    calendar's years.
    """
    import chinese_calendar

    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        raise BeyondCalendar(day) from None
    return (not on_holiday), (on_holiday and name is not None)


@dataclass(frozen=True)
class Season:
    """Part of the year (``months``, 1–12) with its own weekly hours.  ``workdays``
    are the weekdays whose hours were written as 工作日 (China's working days)."""

    months: frozenset
    week: OpeningHours
    workdays: frozenset = frozenset()
    label: str = ""  # 夏季, 冬季… as written, for display

    @property
    def workday_spans(self):
        return self.week.days[min(self.workdays)] if self.workdays else ()


_MONTHS_ZH = "一二三四五六七八九十"


def _months_zh(months) -> str:
    """A set of months as a range in Chinese: {5,6,7,8,9} → 5-9月; wrapping {10,…,4} → 10-4月."""
    months = sorted(months)
    start = next(m for m in months if (m - 2) % 12 + 1 not in months) if len(months) < 12 else 1
    end = (start + len(months) - 2) % 12 + 1
    return f"{start}-{end}月"


@dataclass(frozen=True)
class Timetable:
    """Opening hours that depend on China's calendar or on the season.

    Parameters
    ----------
    seasons : tuple of Season
        Their months cover the year exactly once.
    holidays : {"closed", "open", None}
        What the remark says of statutory holidays; None when there is none.
    remark : str
        The remark as the organiser wrote it (shown to riders).
    """

    seasons: tuple
    holidays: str | None = None
    remark: str = ""

    # -- what the calendar decides -------------------------------------------

    @property
    def is_24h(self) -> bool:
        return (self.holidays != HOLIDAYS_CLOSED and not any(s.workdays for s in self.seasons)
                and all(s.week.is_24h for s in self.seasons))

    @property
    def needs_calendar(self) -> bool:
        return self.holidays == HOLIDAYS_CLOSED or (
            self.holidays != HOLIDAYS_OPEN and any(s.workdays for s in self.seasons))

    def season(self, day: date) -> Season:
        return next(s for s in self.seasons if day.month in s.months)

    def spans_on(self, day: date):
        """The spans (minutes after midnight) that start on ``day``; BeyondCalendar when
        the calendar is needed and does not know the year."""
        season = self.season(day)
        weekday = day.weekday()
        if not self.needs_calendar:
            return season.week.days[weekday]
        working, holiday = china_day(day)
        if self.holidays == HOLIDAYS_CLOSED and holiday:
            return ()
        if season.workdays and self.holidays != HOLIDAYS_OPEN:
            if working and weekday not in season.workdays and weekday >= 5:
                return season.workday_spans  # 调休: a weekend day worked like a weekday
            if not working and weekday in season.workdays:
                return ()  # a statutory holiday on a weekday
        elif self.holidays == HOLIDAYS_CLOSED and working and weekday >= 5:
            # "周一至周五 …（法定节假日除外）" follows the official calendar: on a make-up
            # working day (调休, e.g. Saturday 2026-10-10) it keeps its weekday hours, when
            # Monday to Friday share them (the calendar does not say which weekday it replaces).
            weekdays = season.week.days[:5]
            if weekdays[0] and all(spans == weekdays[0] for spans in weekdays):
                return weekdays[0]
        return season.week.days[weekday]

    def _intervals(self, local: datetime, days_ahead: int):
        """Open intervals (naive local datetimes) starting from the day before ``local``
        up to ``days_ahead`` days after, merged; stops at the calendar's end."""
        out = []
        first = local.date() - timedelta(days=1)
        for k in range(days_ahead + 2):
            day = first + timedelta(days=k)
            try:
                spans = self.spans_on(day)
            except BeyondCalendar:
                if k <= 1:
                    raise
                break
            midnight = datetime(day.year, day.month, day.day)
            for start, end in spans:
                stop = end if end > start else end + _DAY_MIN
                out.append([midnight + timedelta(minutes=start), midnight + timedelta(minutes=stop)])
        out.sort()
        merged = []
        for a, b in out:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return merged

    def is_open(self, at: datetime) -> bool | None:
        """Open at ``at`` (naive = Beijing wall clock); None when the calendar does not
        know that year."""
        local = _local(at)
        try:
            return any(a <= local < b for a, b in self._intervals(local, 0))
        except BeyondCalendar:
            return None

    def next_change(self, at: datetime) -> datetime | None:
        """The next opening or closing within eight days; None when there is none or the
        calendar does not reach it."""
        local = _local(at)
        try:
            intervals = self._intervals(local, 8)
        except BeyondCalendar:
            return None
        for a, b in intervals:
            if a <= local < b:
                moment = b
                break
            if a > local:
                moment = a
                break
        else:
            return None
        if moment - local > timedelta(days=8):
            return None
        return moment.replace(tzinfo=_TZ) if at.tzinfo is not None else moment

    # -- texts -------------------------------------------------------------------

    def to_zh(self) -> str:
        """Chinese text for riders: the seasons, 工作日 as China's working days, and
        the remark as written.  :func:`parse_hours` reads it back to an equal value."""
        parts = []
        for season in self.seasons:
            text = season.week.to_zh()
            if season.workdays:
                text = _with_workdays(season)
            if len(self.seasons) > 1:
                text = f"{season.label or ''}（{_months_zh(season.months)}）{text}"
            parts.append(text)
        text = "；".join(parts)
        if self.holidays:
            remark = self.remark or ("（法定节假日除外）" if self.holidays == HOLIDAYS_CLOSED
                                     else "（节假日正常开放）")
            text += remark if remark[0] in "(（" else f"，{remark}"
        return text

    to_text = to_zh  # no OpenStreetMap syntax says 调休: the Chinese text is canonical

    def __str__(self) -> str:
        return self.to_zh()


def _with_workdays(season: Season) -> str:
    """The weekly text with the 工作日 days named as 工作日."""
    others = tuple(() if d in season.workdays else spans for d, spans in enumerate(season.week.days))
    rest = OpeningHours(days=others)
    head = f"工作日 {_spans_zh(season.workday_spans)}"
    if not any(others):
        return head
    tail = "；".join(r for r in rest.to_zh().split("；") if not r.endswith("休息"))
    return f"{head}；{tail}" if tail else head


def _spans_zh(spans) -> str:
    one = OpeningHours(days=(spans,) * 7).to_zh()
    return one.removeprefix("每天 ") if one != "24小时" else "24小时"


def _local(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        return at
    return at.astimezone(_TZ).replace(tzinfo=None)
