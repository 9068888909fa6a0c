"""Progress: each reviewer's (for the organiser), and what a grassroots union sees of its
own nominations (where each one stands; withdrawing one while nominations are open).

Blind review holds: a union sees how many reviews are in, never a score of a review
in progress; it sees its station's place once the list is public, like everyone.
"""

from __future__ import annotations

from ..accounts.users import speaks_for
from ..storage import StationNotFound, get_station, now_iso, write_transaction
from ..unions.scope import in_scope, scope_of
from .errors import CampaignError
from .holds import HOLD_NAMES
from .store import clean_text, get_campaign, log_event, require_open

__all__ = ["inbox", "reviewer_progress", "union_nominations", "withdraw_nomination"]


def union_nominations(db, campaign_id, user) -> list[dict]:
    """The nominations this user may follow (a union: those it made or speaks for; the
    organiser: all), withdrawn and removed ones included, each with ``progress`` (Chinese)."""
    from .notice import notice_list

    campaign = get_campaign(db, campaign_id)
    rows = list(db.query(
        "SELECT n.station_id, n.union_id, n.nominated_by, n.reason, n.created_at, n.removed_at, n.removed_reason, n.hold, "
        "n.hold_reason, s.name, s.district, s.host_union, "
        "(SELECT count(*) FROM assignments a WHERE a.campaign_id = n.campaign_id AND a.station_id = n.station_id) "
        "AS assigned, (SELECT count(*) FROM reviews r WHERE r.campaign_id = n.campaign_id "
        "AND r.station_id = n.station_id AND r.submitted_at IS NOT NULL AND r.set_aside IS NULL) AS submitted "
        "FROM nominations n JOIN stations s ON s.id = n.station_id WHERE n.campaign_id = ? ORDER BY n.id",
        [campaign["id"]]))
    if user["role"] == "admin":  # the nominations of its part of the union tree
        scope = scope_of(db, user)
        rows = [r for r in rows if in_scope(db, scope, r["union_id"])]
    else:  # a union's colleagues all follow its nominations
        rows = [r for r in rows if r["nominated_by"] == user["username"]
                or (user.get("union_id") is not None and r["union_id"] == user["union_id"])
                or (user.get("union_id") is None and speaks_for(user, {"host_union": r["host_union"]}))]
    listed = {}
    if campaign["stage"] in ("notice", "confirmed") and not campaign["archived"]:
        listed = {s["station_id"]: s["rank"] for s in notice_list(db, campaign["id"])["stations"]}
    for row in rows:
        row["progress"] = _progress(campaign, row, listed)
    return rows


def _progress(campaign, row, listed) -> str:
    if row["removed_at"]:
        return row["removed_reason"] or "已移出"
    if row["hold"]:
        return f"组织者已{HOLD_NAMES[row['hold']]}该站点：{row['hold_reason']}"
    stage = campaign["stage"]
    if stage == "nomination":
        return "已推荐，等待推荐截止后进入综合评议"
    if stage == "review":
        if not row["assigned"]:
            return "综合评议中：评审专家尚未分配"
        return f"综合评议中：{row['submitted']}/{row['assigned']} 位评审已提交评分"
    rank = listed.get(row["station_id"])
    if stage == "notice":
        return f"在公示名单上（第 {rank} 名）" if rank else f"未进入公示名单（名额 {campaign['quota']} 个）"
    return f"已获评（第 {rank} 名）" if rank else "未获评"


def withdraw_nomination(db, campaign_id, station_id, reason, user) -> dict:
    """The nominating union (or the organiser) withdraws a nomination while nominations
    are open, with a reason; kept in the log, the station leaves the running."""
    if user["role"] not in ("admin", "union"):
        raise CampaignError("只有组织者或推荐单位可以撤回推荐", None, 403)
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    if campaign["stage"] != "nomination":
        raise CampaignError(f"推荐已截止（现为“{campaign['stage_name']}”阶段），不能撤回；如有问题请联系组织者",
                            "stage", 409)
    try:
        station = get_station(db, int(station_id))
    except (StationNotFound, TypeError, ValueError):
        raise CampaignError(f"没有编号为 {station_id} 的站点", "station_id") from None
    reason = clean_text(reason, "reason", "撤回理由", 500, shortest=1)
    with write_transaction(db):
        row = db.execute("SELECT nominated_by FROM nominations WHERE campaign_id = ? AND station_id = ? "
                         "AND removed_at IS NULL", [campaign["id"], station["id"]]).fetchone()
        if row is None:
            raise CampaignError(f"站点“{station['name']}”没有在本活动中被推荐（或已撤回）", "station_id", 404)
        if user["role"] == "union" and row[0] != user["username"] and not speaks_for(user, station):
            log_event(db, campaign["id"], "refused", username=user["username"], reason="撤回其他工会的推荐",
                      detail={"action": "withdraw", "station_id": station["id"]})
            raise CampaignError("只能撤回本工会的推荐", "station_id", 403)
        db.execute("UPDATE nominations SET removed_at = ?, removed_reason = ? WHERE campaign_id = ? AND station_id = ?",
                   [now_iso(), f"推荐单位撤回：{reason}", campaign["id"], station["id"]])
        log_event(db, campaign["id"], "withdraw", username=user["username"], reason=reason,
                  detail={"station_id": station["id"], "name": station["name"]})
    return {"station_id": station["id"], "name": station["name"]}


def reviewer_progress(db, campaign_id) -> list[dict]:
    """One row per reviewer with work in the campaign: ``assigned`` (in force), ``submitted``,
    ``drafts``, ``held`` (paused by a conflict), ``todo``; the least done first."""
    rows = list(db.query(
        "SELECT u.username, u.union_name, count(*) FILTER (WHERE a.held IS NULL) AS assigned, "
        "count(*) FILTER (WHERE a.held IS NOT NULL) AS held, "
        "count(r.submitted_at) FILTER (WHERE a.held IS NULL) AS submitted, "
        "count(r.id) FILTER (WHERE a.held IS NULL AND r.submitted_at IS NULL) AS drafts "
        "FROM assignments a JOIN users u ON u.id = a.reviewer_id "
        "JOIN nominations n ON n.campaign_id = a.campaign_id AND n.station_id = a.station_id AND n.removed_at IS NULL "
        "LEFT JOIN reviews r ON r.campaign_id = a.campaign_id AND r.station_id = a.station_id "
        "AND r.reviewer_id = a.reviewer_id AND r.set_aside IS NULL "
        "WHERE a.campaign_id = ? GROUP BY u.id", [int(campaign_id)]))
    for row in rows:
        row["todo"] = row["assigned"] - row["submitted"]
    return sorted(rows, key=lambda r: (r["submitted"] / r["assigned"] if r["assigned"] else 1, r["username"]))


def inbox(db, user) -> list[dict]:
    """What needs this user's attention, campaign by campaign (newest first): a reviewer's
    stations to score, drafts and paused ones, and the comparison once locked; a union's
    nominations and where they stand.  Computed from the campaigns as they are (nothing is
    stored): {"campaign_id", "name", "stage", "lines": [Chinese sentences]}."""
    from .store import list_campaigns

    out = []
    for campaign in list_campaigns(db):
        lines = []
        if user["role"] == "reviewer":
            mine = db.execute(
                "SELECT count(*) FILTER (WHERE a.held IS NULL AND r.submitted_at IS NULL AND r.id IS NULL), "
                "count(*) FILTER (WHERE a.held IS NULL AND r.id IS NOT NULL AND r.submitted_at IS NULL), "
                "count(*) FILTER (WHERE a.held IS NOT NULL), count(r.submitted_at), count(*) "
                "FROM assignments a LEFT JOIN reviews r ON r.campaign_id = a.campaign_id AND r.station_id = a.station_id "
                "AND r.reviewer_id = a.reviewer_id AND r.set_aside IS NULL WHERE a.campaign_id = ? AND a.reviewer_id = ?",
                [campaign["id"], user["id"]]).fetchone()
            todo, drafts, held, submitted, assigned = mine
            if not assigned:
                continue
            if campaign["stage"] == "review":
                lines.append(f"分配给您 {assigned} 个站点：已提交 {submitted} 个，草稿 {drafts} 个，未开始 {todo} 个")
                if held:
                    lines.append(f"{held} 个站点因利益冲突暂停评审，组织者会另行安排")
            elif campaign["stage"] in ("notice", "confirmed"):
                lines.append(f"评审已结束（您提交了 {submitted} 份），可查看与专家组的对比")
        elif user["role"] == "union":
            rows = union_nominations(db, campaign["id"], user)
            if not rows:
                continue
            grouped = {}
            for row in rows:
                grouped.setdefault(row["progress"], []).append(row["name"])
            lines += [f"“{names[0]}”：{text}" if len(names) == 1 else f"{len(names)} 个站点：{text}"
                      for text, names in grouped.items()]
        if lines:
            out.append({"campaign_id": campaign["id"], "name": campaign["name"], "stage": campaign["stage"],
                        "lines": lines})
    return out
