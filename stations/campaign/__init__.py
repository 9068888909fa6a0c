"""The 最美站点 selection (推树活动), end to end, and 七有 on the station record.

- :mod:`.rubric` — 七有 as data, copied into each campaign, editable before review;
- :mod:`.stages` — campaigns and their four stages (基层推荐 → 综合评议 → 公示 → 确认);
- :mod:`.nominations` — unions nominate their own active stations, with photos;
- :mod:`.progress` — what a union sees of its nominations; withdrawing one;
- :mod:`.assignment` — reviewers per station, no conflict of interest, balanced loads;
- :mod:`.eligibility` — conflict of interest by the union tree, one boolean row per station;
- :mod:`.tree` — campaigns run by a union: who manages one, 推荐名额 and forwarding,
  recommending winners to the level above, honour titles named after the awarding union;
- :mod:`.conflicts` — a nominee's host union changes: its reviewers of that union leave it
  (storage calls it, through ``storage.FIELD_WATCHERS``, whichever path changed the station);
- :mod:`.reviews` — the reviewer's queue and form, evidence of use, the live ranking;
- :mod:`.ranking` — trimmed means, per-reviewer z-scores, Kendall's W, ties, flags;
- :mod:`.holds` — the organiser holds or excludes a nominee during review, with a reason;
- :mod:`.ranking_view` — the ranking as the organiser reads it: places, removals, quota line, ties;
- :mod:`.notice` — the public list, objections, confirmation, awards and exports;
- :mod:`.printed` — the 公示 notice as posted and filed (issuer, period, contact, changes);
- :mod:`.compare` — once locked, a reviewer's scores against the panel's, and their severity;
- :mod:`.records` — individual reviews and the ranking as XLSX/CSV for the file;
- :mod:`.checklist` — each station's latest 七有 checklist, inspections;
- :mod:`.radar` — the criteria as a server-rendered SVG radar chart.

No Flask here: the web layer (``stations/web/campaigns.py``) is thin.
"""

from .assignment import Infeasible, check_assignment, conflict, eligibility, plan_assignment
from .checklist import (INSPECTION_KINDS, inspect_station, latest_checklist, latest_checklists,
                        qiyou_property, stations_with_min_total, awarded_station_ids, checklists_version)
from .errors import CampaignError, NotFound
from .holds import HOLD_NAMES, set_hold
from .compare import reviewer_comparison
from .printed import printed_notice, set_notice_details
from .records import RECORDS, ranking_records, records_csv, records_xlsx, review_records
from .progress import inbox, reviewer_progress, union_nominations, withdraw_nomination
from .ranking_view import ranking_view
from .nominations import (MAX_PHOTOS, add_photos, find_nominees, nominate, nomination_photos, photo_file, photo_limit_message,
                          read_photo, union_stations)
from .notice import (award_rows, award_title, awards_csv, awards_xlsx, list_objections, lodge_objection,
                     notice_list, resolve_objection)
from .radar import radar_svg
from .ranking import RULES, aggregate, ranking_rules, kendall_w, normalise_by_reviewer, rank_campaign
from .reviews import (assign_reviewers, assignment_note, evidence_of_use, get_review, list_assignments, live_ranking,
                      missing_reviews, reassign, reassign_choices, reviewer_queue, save_review, station_facts)
from .rubric import (DEFAULT_RUBRIC, READINGS, default_rubric, item_names, priority_reading, validate_rubric,
                     weighted_total)
from .stages import (advance_stage, archive_campaign, create_campaign, namesake_warning, namesakes, set_normalise,
                     set_priority_reading, set_rubric, update_campaign)
from .store import (LEVELS, STAGE_NAMES, STAGES, active_nominations, campaign_log, get_campaign,
                    list_campaigns, reviewers)

__all__ = [
    "CampaignError", "NotFound", "Infeasible", "DEFAULT_RUBRIC", "LEVELS", "STAGES", "STAGE_NAMES", "RULES", "ranking_rules",
    "INSPECTION_KINDS", "MAX_PHOTOS",
    "default_rubric", "validate_rubric", "weighted_total", "create_campaign", "set_rubric", "set_normalise",
    "advance_stage", "get_campaign", "list_campaigns", "campaign_log", "nominate", "read_photo",
    "nomination_photos", "photo_file", "union_stations", "eligibility", "plan_assignment", "check_assignment", "conflict",
    "assign_reviewers", "assignment_note", "reassign", "list_assignments", "reviewer_queue", "get_review", "save_review",
    "missing_reviews", "evidence_of_use", "live_ranking", "station_facts", "aggregate", "kendall_w",
    "normalise_by_reviewer", "rank_campaign", "notice_list", "lodge_objection", "resolve_objection",
    "list_objections", "award_rows", "award_title", "awards_xlsx", "awards_csv", "inspect_station",
    "item_names", "active_nominations", "reviewers", "latest_checklist", "latest_checklists", "qiyou_property", "stations_with_min_total", "radar_svg",
    "awarded_station_ids", "checklists_version", "update_campaign", "archive_campaign", "namesakes",
    "namesake_warning", "HOLD_NAMES", "set_hold", "reassign_choices", "ranking_view", "union_nominations",
    "withdraw_nomination", "inbox", "reviewer_comparison", "RECORDS", "ranking_records", "records_csv", "records_xlsx", "review_records",
    "find_nominees", "reviewer_progress", "printed_notice", "set_notice_details", "READINGS", "priority_reading", "set_priority_reading", "add_photos", "photo_limit_message",
]
