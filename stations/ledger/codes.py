"""The ledger's vocabulary: codes in the API and files, Chinese labels on pages, limits.

Visitor kinds and services are fixed codes (issue 8); each becomes one integer column
(``v_<kind>``, ``s_<service>``) of ``ledger_entries`` and of the monthly summary.
"""

from __future__ import annotations

__all__ = ["VISITORS", "SERVICES", "MEETING_KINDS", "MAX_DAILY_COUNT", "MAX_MEETING_COUNT",
           "NOTE_MAX", "VISITOR_COLUMNS", "SERVICE_COLUMNS", "COUNT_COLUMNS", "LedgerError"]

VISITORS = {
    "rider": "外卖骑手", "courier": "快递员", "sanitation": "环卫工人",
    "driver": "出租/网约车司机", "trucker": "货车司机", "other": "其他户外劳动者",
}
SERVICES = {
    "water": "饮水", "meal_heating": "热饭", "charging": "充电", "toilet": "如厕",
    "rest": "休息/避雨", "first_aid": "药箱", "legal_aid": "维权/法律咨询", "other": "其他",
}
MEETING_KINDS = {"worker": "职工沟通会", "enterprise": "企业沟通会"}

# One station's day: more than this of one kind is not a station's day but a typo
# (an extra zero, a phone number in the wrong column).
MAX_DAILY_COUNT = 2000
# One meeting: attendees, companies, new members or unions above this is refused.
MAX_MEETING_COUNT = 100_000
NOTE_MAX = 500

VISITOR_COLUMNS = tuple(f"v_{code}" for code in VISITORS)
SERVICE_COLUMNS = tuple(f"s_{code}" for code in SERVICES)
COUNT_COLUMNS = VISITOR_COLUMNS + SERVICE_COLUMNS


class LedgerError(ValueError):
    """A refused ledger action: a Chinese ``message``, the ``field`` at fault, an HTTP status
    (400 bad input, 403 not this user's station, 404 no such station or meeting)."""

    def __init__(self, message: str, field: str | None = None, status: int = 400, *,
                 errors: dict | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field
        self.status = status
        self.errors = errors or ({field: message} if field else {})
