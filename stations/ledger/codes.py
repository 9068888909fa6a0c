"""The ledger's vocabulary: codes in the API and files, Chinese labels on pages, limits.

Visitor kinds and services are fixed codes (issue 8); each becomes one integer column
(``v_<kind>``, ``s_<service>``) of ``ledger_entries`` and of the monthly summary.
"""

from __future__ import annotations

__all__ = ["VISITORS", "SERVICES", "MEETING_KINDS", "MAX_DAILY_COUNT", "MAX_MEETING_COUNT", "MEETING_LIMITS",
           "NOTE_MAX", "VISITOR_COLUMNS", "SERVICE_COLUMNS", "COUNT_COLUMNS", "LedgerError",
           "closed_day_sql"]

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
# One meeting: counts above the first figure need the recorder's confirmation (and are
# flagged for the organisers), above the second are refused.  Real figures (Beijing,
# 2018-2023): 2.71万 职工沟通会 with 60.98万 workers asking on the spot (about 22 a
# meeting) and 16.01万 applying to join (about 6); 1.73万 企业沟通会 with 2.17万
# companies (about 1.3) and 1.48万 unions founded; a town's 企业混合沟通会 of 38 unions
# and 68 people (顺义 马坡镇, 2022); 海淀 held 1,269 + 1,164 meetings in 18 months and
# gained some 80,000 members in two years.  A big meeting at a factory gate or a
# logistics park may hold a few hundred: the first figure; thousands at one meeting are
# a typo (an extra 0, a year in the wrong box) or a campaign's total: the second.
MEETING_LIMITS = {"attendees": (500, 5000), "companies": (50, 500), "new_members": (300, 3000),
                  "new_unions": (20, 200)}
# The largest count a meeting may hold at all (the OpenAPI bound; each count has its own).
MAX_MEETING_COUNT = max(hard for _, hard in MEETING_LIMITS.values())
NOTE_MAX = 500

VISITOR_COLUMNS = tuple(f"v_{code}" for code in VISITORS)
SERVICE_COLUMNS = tuple(f"s_{code}" for code in SERVICES)
COUNT_COLUMNS = VISITOR_COLUMNS + SERVICE_COLUMNS


def closed_day_sql(alias: str = "") -> str:
    """The SQL condition of a closed day (every count 0), as the partial index
    ``ledger_closed_days`` states it (m017): written the same way, SQLite uses the index."""
    prefix = f"{alias}." if alias else ""
    return " + ".join(prefix + c for c in COUNT_COLUMNS) + " = 0"


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
