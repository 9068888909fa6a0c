"""The service ledger (服务台账), 双沟通 meetings, riders' check-ins, reports and flags.

- :mod:`.codes` — visitor kinds and services (codes in the API, Chinese on pages), limits;
- :mod:`.entries` — one entry per station and day; replaced versions kept in history;
- :mod:`.meetings` — 职工沟通会 / 企业沟通会, counts only (no personal data);
- :mod:`.checkins` — "我在这里歇脚了": anonymous, rate-limited, a count per station and day;
- :mod:`.importer` — a month's ledger from XLSX/CSV, checked row by row, all or nothing;
- :mod:`.reports` — figures per station, district and month, the yearly summary sentence;
- :mod:`.charts` — server-rendered SVG charts; :mod:`.exports` — XLSX/CSV downloads;
- :mod:`.flags` — ledgers that claim what riders do not show, and ledgers that stop;
- :mod:`.evidence` — the last 90 days as evidence of use (a kept ledger evidences 服务台账).

Who may write and see: a ``union`` user its own union's stations, an admin those of its
part of the union tree (``stations.unions.scope``: ``scope_of`` the user, or the
request's ``scope`` the caller passes).  No Flask here.
"""

from .charts import bar_chart, line_chart, panels_chart
from .checkins import check_in, checkin_count
from .codes import MAX_DAILY_COUNT, MEETING_KINDS, MEETING_LIMITS, SERVICES, VISITORS, LedgerError
from .common import keeper_scope, parse_date, station_for, today
from .entries import (entry_history, entry_json, get_entries, get_entry, keeper_stations, recent_days,
                      save_entry)
from .evidence import KEPT_SHARE, ledger_evidence
from .exports import TABLES, report_csv, report_tables, report_xlsx
from .flags import FLAG_KINDS, Thresholds, consistency_flags, quiet_flag
from .importer import MAX_LEDGER_ROWS, LedgerImportReport, import_ledger
from .meetings import (CONFIRM_LABEL, MEETING_COUNTS, add_meeting, check_large_meeting, large_meetings,
                       list_meetings, meeting_json, union_districts)
from .reports import FIGURE_LABELS, FIGURES, ledger_report, partial_month, period, station_table, year_summary

__all__ = [
    "VISITORS", "SERVICES", "MEETING_KINDS", "MEETING_COUNTS", "MEETING_LIMITS", "MAX_DAILY_COUNT", "MAX_LEDGER_ROWS",
    "LedgerError", "FIGURES", "FIGURE_LABELS", "FLAG_KINDS", "TABLES", "Thresholds", "LedgerImportReport",
    "parse_date", "station_for", "today", "keeper_scope",
    "save_entry", "get_entry", "get_entries", "recent_days", "keeper_stations", "entry_history", "entry_json",
    "add_meeting", "list_meetings", "meeting_json", "union_districts", "large_meetings", "check_large_meeting",
    "CONFIRM_LABEL", "check_in", "checkin_count", "import_ledger",
    "ledger_report", "station_table", "year_summary", "period", "partial_month", "line_chart", "panels_chart",
    "bar_chart",
    "report_tables", "report_csv", "report_xlsx", "consistency_flags", "quiet_flag", "ledger_evidence",
    "KEPT_SHARE",
]
