"""Open now? A station's state at a moment, in words a rider reads ("营业中，20:00 关门").

Not exported from the package: it needs the record's status labels, and the record
itself imports this package to check hours.
"""

from __future__ import annotations

from datetime import datetime

from ..registry.records import STATUSES
from .parser import parse_hours
from .week import _TZ as TZ
from .week import HoursError

__all__ = ["open_state"]


def open_state(station: dict, at: datetime | None = None) -> dict:
    """Whether a station is open at ``at`` (default now, Asia/Shanghai) and until when.

    Returns a dict: ``open`` (True/False/None when hours are unknown), ``label``
    (Chinese text for a person) and ``until`` (the next change, or None).
    """
    at = at or datetime.now(TZ)
    if station.get("status") != "active":
        return {"open": False, "label": STATUSES.get(station.get("status"), ""), "until": None}
    if not station.get("hours"):
        return {"open": None, "label": "开放时间未知", "until": None}
    try:
        hours = parse_hours(station["hours"])
    except HoursError:
        return {"open": None, "label": "开放时间未知", "until": None}
    is_open = hours.is_open(at)
    if is_open is None:  # hours that follow China's calendar, in a year it does not know
        return {"open": None, "label": f"开放时间未知（{at.year} 年节假日安排尚未收录）", "until": None}
    change = hours.next_change(at)
    if hours.is_24h:
        label = "24小时开放"
    elif is_open:
        label = f"营业中，{_when(change, at)}关门" if change else "营业中"
    else:
        label = f"已打烊，{_when(change, at)}开门" if change else "已打烊"
    return {"open": is_open, "label": label, "until": change}


def _when(moment: datetime, at: datetime) -> str:
    moment = moment.astimezone(TZ) if moment.tzinfo else moment
    local_at = at.astimezone(TZ) if at.tzinfo else at
    days = (moment.date() - local_at.date()).days
    prefix = {0: "", 1: "明天 "}.get(days, f"{moment.month}月{moment.day}日 ")
    return f"{prefix}{moment:%H:%M} "
