"""The schema: ordered, registered migrations; the version lives in PRAGMA user_version.

One module per part of the product (``registry``, ``campaign``, ``ledger``); the order
below is the order they run in and must never change: a database at version N has had
exactly the first N.  A new migration goes at the end.
"""

from __future__ import annotations

from ..connection import write_transaction
from . import campaign, ledger, registry, unions

__all__ = [
    "migrate",
    "checkpoint",
    "schema_version",
    "MIGRATIONS",
]

MIGRATIONS = [
    registry.m001_stations_and_users,
    registry.m002_spatial_index,
    registry.m003_history_and_version,
    registry.m004_feedback_and_rate_limits,
    registry.m005_sessions_and_limit_expiry,
    registry.m006_import_jobs,
    registry.m007_coverage_demand_layers,
    campaign.m008_campaigns_union_role_tokens,
    ledger.m009_ledger,
    registry.m010_station_note_and_typed_hours,
    ledger.m011_ledger_district_days_and_job_kinds,
    ledger.m012_checkin_client_days_and_large_meetings,
    campaign.m013_conflict_holds_and_objection_fingerprints,
    unions.m014_unions,
    registry.m015_plan_scenarios,
    campaign.m016_campaign_quotas_forwarding_and_recommendations,
    ledger.m017_ledger_closed_days,
    campaign.m018_campaign_archive,
    campaign.m019_nomination_holds,
    campaign.m020_notice_workdays_and_confirmation_date,
    campaign.m021_pass_mark_and_notice_details,
]


def checkpoint(db) -> None:
    """Fold the write-ahead log into the database file and truncate it (after big writes).

    Does not wait: while another writer works the checkpoint is left to its commits
    (TRUNCATE would otherwise sit out the whole busy timeout).
    """
    timeout = db.execute("PRAGMA busy_timeout").fetchone()[0]
    db.execute("PRAGMA busy_timeout = 0")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def schema_version(db) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db, target: int | None = None) -> tuple[int, int]:
    """Apply the migrations the database has not had yet, each in its own transaction.

    Returns (version before, version after).
    """
    target = len(MIGRATIONS) if target is None else target
    start = current = schema_version(db)
    while current < target:
        with write_transaction(db):
            # Read again under the write lock: another process may have migrated meanwhile.
            current = schema_version(db)
            if current >= target:
                break
            MIGRATIONS[current](db)
            current += 1
            db.execute(f"PRAGMA user_version = {int(current)}")
    return start, current
