"""The 公示 period: when it starts, when it ends, and what the public is told.

The organiser sets the start date (today by default, never in the past) when moving to
公示, and whether the campaign's ``notice_days`` are calendar days or 工作日 — China's
working days, holidays and 调休 included (``stations.hours.calendar.china_day``).  The
first day counts: 7 days from 11-26 end on 12-02; 5 工作日 from a Friday before 国庆
skip the holiday.  A confirmation before the end (forced) ends the period that day, and
the public page says so.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from ..hours.calendar import BeyondCalendar, china_day
from .errors import CampaignError

__all__ = ["notice_end", "parse_notice_start", "parse_workdays", "period_of"]

_LATEST_START = 60  # days ahead the organiser may put the start


def parse_notice_start(value, now: date) -> date:
    """The start date typed (YYYY-MM-DD; empty: ``now``, today in Beijing); CampaignError
    naming ``notice_start``."""
    if value in (None, ""):
        return now
    if not isinstance(value, str) or not re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        raise CampaignError(f"公示开始日期应写成 2026-11-26 这样的日期，收到“{str(value)[:20]}”", "notice_start")
    try:
        start = date.fromisoformat(value.strip())
    except ValueError:
        raise CampaignError(f"没有 {value.strip()} 这一天", "notice_start") from None
    if start < now:
        raise CampaignError(f"公示开始日期 {start} 已经过去：最早为今天（{now}）", "notice_start")
    if start > now + timedelta(days=_LATEST_START):
        raise CampaignError(f"公示开始日期最晚为 {_LATEST_START} 天后（{now + timedelta(days=_LATEST_START)}）",
                            "notice_start")
    return start


def parse_workdays(value) -> bool:
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "on", "yes")
    if not isinstance(value, bool) and value is not None:
        raise CampaignError("notice_workdays 应为 true 或 false", "notice_workdays")
    return bool(value)


def notice_end(start: date, days: int, workdays: bool) -> date:
    """The last day of a period of ``days`` (first day included), calendar days or 工作日."""
    if days <= 0:
        return start
    if not workdays:
        return start + timedelta(days=days - 1)
    day, counted = start, 0
    try:
        while True:
            if china_day(day)[0]:
                counted += 1
                if counted == days:
                    return day
            day += timedelta(days=1)
    except BeyondCalendar as exc:
        raise CampaignError(f"{exc}：无法按工作日计算公示期，请改按自然日计算", "notice_workdays") from None


def period_of(campaign, today: date) -> dict:
    """What the public is told about the period besides its dates: ``days``, ``workdays``,
    ``confirmed_at`` and ``state``: upcoming, running, over (not yet confirmed),
    confirmed, or ended_early (confirmed before the end)."""
    start, end = campaign.get("notice_start"), campaign.get("notice_end")
    confirmed = campaign.get("confirmed_at")
    now = today.isoformat()
    if confirmed:
        state = "ended_early" if end and confirmed < end else "confirmed"
    elif start and now < start:
        state = "upcoming"
    elif end and now > end:
        state = "over"
    else:
        state = "running"
    return {"days": campaign.get("notice_days"), "workdays": bool(campaign.get("notice_workdays")),
            "confirmed_at": confirmed, "state": state}
