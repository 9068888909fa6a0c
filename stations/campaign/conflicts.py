"""A nominee changes union, or the tree changes: no reviewer goes on reviewing a station
whose union lies on one line with theirs (the rule of :mod:`.eligibility`).

Storage calls :func:`host_union_changed` (its ``FIELD_WATCHERS``) inside the write
transaction that changes a station's ``host_union``, whichever path changed it: the
organiser's form, the API's PATCH or PUT, an import updating the station by id, a
restored version.  In every campaign not yet confirmed, the nomination's union follows
the station (it is the union that speaks for the nominee now: its photos, its keeper).
Where the station is an active nominee, the change is written in the campaign's log;
and while reviews are open (综合评议), each assigned reviewer of the station's new union
now in conflict with it (the same union, or one above or below it in the tree) is
replaced by the least-loaded reviewer who may review it and is not on it yet (as
assignment chooses).  When no one is left to take over, the assignment is *held*: the
reviewer can no longer review the station, it still counts as a review owed, and the
organiser hands it on (``reassign``).  A review the conflicted reviewer had saved is
*set aside*: it no longer counts in the ranking.  Each step is one line of the log.

The tree itself may change under an open campaign: two union records merged into one
(``merge_unions``) or a union put under another (``move_union``) can put a reviewer and
a nominee on one line.  The union store calls :func:`unions_changed` inside that write
transaction (its ``TREE_WATCHERS``), and every campaign in 综合评议 is re-checked the
same way.
"""

from __future__ import annotations

from ..storage import now_iso
from .eligibility import conflict_rule, reviewer_key, station_key
from .store import log_event

__all__ = ["host_union_changed", "unions_changed"]


def _spaced(union) -> str:
    return " ".join(str(union or "").split())


def _named(union) -> str:
    return f"“{_spaced(union)}”" if _spaced(union) else "（未登记工会）"


def host_union_changed(db, before: dict, after: dict, *, username=None) -> list[dict]:
    """Re-check reviewers' conflicts of interest after a station's host union changed.

    Call inside the write transaction that changed the station (storage does).

    Parameters
    ----------
    before, after : dict
        The station record before and after the change.
    username : str, optional
        Who changed the station; the log names them.

    Returns
    -------
    list of dict
        One per conflicted reviewer: ``campaign_id``, ``reviewer``, ``action``
        (``"moved"`` or ``"held"``), ``to`` (the reviewer who took over, or None) and
        ``review`` (``"submitted"``, ``"draft"`` or None: what was set aside).
    """
    station_id = after["id"]
    old, new = before.get("host_union"), after.get("host_union")
    open_ = db.execute("SELECT c.id, c.stage, n.removed_at, c.union_id FROM nominations n JOIN campaigns c "
                       "ON c.id = n.campaign_id WHERE n.station_id = ? AND c.stage != 'confirmed' ORDER BY c.id",
                       [station_id]).fetchall()
    if not open_:
        return []
    db.execute("UPDATE nominations SET union_name = ?, union_id = ? WHERE station_id = ? AND campaign_id IN "
               "(SELECT id FROM campaigns WHERE stage != 'confirmed')",
               [new, after.get("host_union_id"), station_id])
    if station_key(before) == station_key(after):
        return []  # spacing only: the same union
    change = f"站点“{after['name']}”（#{station_id}）的所属工会由{_named(old)}改为{_named(new)}"
    done = []
    for campaign_id, stage, removed_at, organiser in open_:
        if removed_at is not None:
            continue
        log_event(db, campaign_id, "union_change", username=username, reason=change,
                  detail={"station_id": station_id, "name": after["name"], "from_union": old, "to_union": new})
        if stage == "review":
            rule = conflict_rule(db, organiser)
            done += _recheck(db, campaign_id, rule, after, change, username, old=old)
    return done


def unions_changed(db, *, username=None, what: str = "工会归属调整") -> list[dict]:
    """Re-check every campaign in 综合评议 after the tree changed (a merge, a move).

    Call inside the write transaction that changed the tree (the union store does)."""
    done = []
    campaigns = db.execute("SELECT id, union_id FROM campaigns WHERE stage = 'review' ORDER BY id").fetchall()
    for campaign_id, organiser in campaigns:
        rule = conflict_rule(db, organiser)
        stations = db.execute(
            "SELECT DISTINCT s.id, s.name, s.host_union, s.host_union_id FROM assignments a "
            "JOIN stations s ON s.id = a.station_id WHERE a.campaign_id = ? AND a.held IS NULL ORDER BY s.id",
            [campaign_id]).fetchall()
        for sid, name, host_union, host_union_id in stations:
            station = {"id": sid, "name": name, "host_union": host_union, "host_union_id": host_union_id}
            change = f"{what}后，站点“{name}”（#{sid}，{_named(host_union)}）"
            done += _recheck(db, campaign_id, rule, station, change, username)
    return done


def _recheck(db, campaign_id, rule, station, change, username, *, old=None) -> list[dict]:
    station_id, new = station["id"], station.get("host_union")
    on = db.execute("SELECT a.reviewer_id, u.username, u.union_name, u.union_id FROM assignments a JOIN users u "
                    "ON u.id = a.reviewer_id WHERE a.campaign_id = ? AND a.station_id = ? AND a.held IS NULL "
                    "ORDER BY u.username", [campaign_id, station_id]).fetchall()
    done = []
    for reviewer_id, reviewer, union, union_id in on:
        mine, theirs = reviewer_key({"union_id": union_id, "union_name": union}), station_key(station)
        if not rule.conflict(mine, theirs):
            continue
        parts = [f"{change}，评审 {reviewer}（{_spaced(union) or '未登记工会'}）{rule.reason(mine, theirs)}（利益冲突）"]
        taker = _least_loaded(db, campaign_id, station, rule)
        if taker is not None:
            db.execute("UPDATE assignments SET reviewer_id = ?, assigned_by = ?, assigned_at = ? "
                       "WHERE campaign_id = ? AND station_id = ? AND reviewer_id = ?",
                       [taker["id"], username, now_iso(), campaign_id, station_id, reviewer_id])
            parts.append(f"已改由 {taker['username']} 评审")
        else:
            db.execute("UPDATE assignments SET held = ? WHERE campaign_id = ? AND station_id = ? AND reviewer_id = ?",
                       [f"利益冲突：{rule.reason(mine, theirs)}", campaign_id, station_id, reviewer_id])
            parts.append("没有可接替的评审（其余评审或与该站同属一条工会线，或已在评审该站），该评审任务已暂停，"
                         "请组织者调整评审")
        review = _set_aside(db, campaign_id, station_id, reviewer_id, rule.reason(mine, theirs))
        if review == "submitted":
            parts.append(f"{reviewer} 已提交的评分不计入排名")
        elif review == "draft":
            parts.append(f"{reviewer} 的评审草稿作废")
        action = "moved" if taker is not None else "held"
        log_event(db, campaign_id, "conflict", username=username, reason="；".join(parts),
                  detail={"station_id": station_id, "name": station["name"], "reviewer": reviewer,
                          "from_union": old, "to_union": new, "action": action,
                          "to": taker["username"] if taker else None, "review": review})
        done.append({"campaign_id": campaign_id, "reviewer": reviewer, "action": action,
                     "to": taker["username"] if taker else None, "review": review})
    return done


def _least_loaded(db, campaign_id, station, rule) -> dict | None:
    """The reviewer who may take the station over: not on its union's line, not on it
    already (held or not), with no review of it, and the fewest stations in force in
    this campaign (then the earliest account)."""
    rows = db.execute(
        "SELECT u.id, u.username, u.union_name, u.union_id, (SELECT count(*) FROM assignments a "
        "WHERE a.campaign_id = :c AND a.reviewer_id = u.id AND a.held IS NULL) AS load FROM users u "
        "WHERE u.role = 'reviewer' "
        "AND u.id NOT IN (SELECT reviewer_id FROM assignments WHERE campaign_id = :c AND station_id = :s) "
        "AND u.id NOT IN (SELECT reviewer_id FROM reviews WHERE campaign_id = :c AND station_id = :s) "
        "ORDER BY load, u.id", {"c": campaign_id, "s": station["id"]}).fetchall()
    theirs = station_key(station)
    for reviewer_id, name, union, union_id, _load in rows:
        if not rule.conflict(reviewer_key({"union_id": union_id, "union_name": union}), theirs):
            return {"id": reviewer_id, "username": name}
    return None


def _set_aside(db, campaign_id, station_id, reviewer_id, why) -> str | None:
    """Set the reviewer's review of the station aside; what it was (None: there was none)."""
    row = db.execute("SELECT id, submitted_at FROM reviews WHERE campaign_id = ? AND station_id = ? "
                     "AND reviewer_id = ? AND set_aside IS NULL", [campaign_id, station_id, reviewer_id]).fetchone()
    if row is None:
        return None
    db.execute("UPDATE reviews SET set_aside = ? WHERE id = ?", [f"利益冲突：{why}", row[0]])
    return "submitted" if row[1] else "draft"
