"""Campaigns and their four stages: 基层推荐 → 综合评议 → 公示 → 确认, forward only, logged."""

from __future__ import annotations

import json

from ..storage import now_iso, write_transaction
from .errors import CampaignError
from .period import notice_end, parse_notice_start, parse_workdays
from .rubric import READINGS, default_rubric, validate_rubric, with_reading
from .store import (LEVELS, STAGE_NAMES, STAGES, clean_text, get_campaign, log_event, parse_int, require_open, today,
                    typed_number)
from .tree import require_manager, uses_quotas

__all__ = ["create_campaign", "update_campaign", "archive_campaign", "namesakes", "namesake_warning", "set_priority_reading", "set_rubric", "advance_stage",
           "today"]

SETTINGS = ("name", "year", "level", "quota", "subsidy_yuan", "reviewers_per_station", "notice_days", "normalise",
            "pass_mark")
SETTING_NAMES = {"name": "活动名称", "year": "年度", "level": "级别", "quota": "名额", "subsidy_yuan": "每站奖补资金",
                 "reviewers_per_station": "每站评审人数", "notice_days": "公示天数", "normalise": "按评审标准化",
                 "pass_mark": "最低总分"}


def _require_admin(user):
    if user["role"] != "admin":
        raise CampaignError("只有组织者（管理员）可以这样做", None, 403)


def parse_campaign(data) -> dict:
    """Check a new campaign's fields (JSON or a form); CampaignError naming the field."""
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    level = data.get("level")
    if not isinstance(level, str) or level not in LEVELS:  # a list or object is no level (nor hashable)
        raise CampaignError("级别应为 national（全国）、municipal（市级）或 district（区级）", "level")
    notice_days = data.get("notice_days")
    normalise = data.get("normalise", False)
    if isinstance(normalise, str):
        normalise = normalise.strip().lower() in ("1", "true", "on", "yes")
    return {
        "name": clean_text(data.get("name"), "name", "活动名称", 60, shortest=1, multiline=False),
        "year": parse_int(data.get("year"), "year", "年度", 2000, 2100),
        "level": level,
        "quota": parse_int(data.get("quota"), "quota", "名额", 1, 10000),
        "subsidy_yuan": parse_int(data.get("subsidy_yuan"), "subsidy_yuan", "每个站点奖补资金（元）",
                                  0, 100_000_000),
        "reviewers_per_station": parse_int(data.get("reviewers_per_station"), "reviewers_per_station",
                                           "每站评审人数", 1, 20),
        "notice_days": 7 if notice_days in (None, "") else parse_int(notice_days, "notice_days",
                                                                    "公示天数", 0, 60),
        "normalise": bool(normalise),
        "pass_mark": _pass_mark(data.get("pass_mark")),
    }


def _pass_mark(value):
    """The optional minimum total (0–100); None when left empty."""
    if value in (None, ""):
        return None
    try:
        mark = typed_number(value) if isinstance(value, str) else (
            float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)
    except ValueError:
        mark = None
    if mark is None or not 0 <= mark <= 100:
        raise CampaignError(f"最低总分应是 0 到 100 之间的数（可不填），收到“{str(value)[:20]}”", "pass_mark")
    return round(mark, 2)


def _check_pool(db, k: int) -> None:
    """Refuse more reviewers per station than there are reviewers: such a campaign
    could never be assigned."""
    pool = db.execute("SELECT count(*) FROM users WHERE role = 'reviewer'").fetchone()[0]
    if k > pool:
        have = f"现只有 {pool} 位评审专家" if pool else "还没有评审专家账号"
        raise CampaignError(f"每站评审人数为 {k}，但{have}，这样的活动永远无法分配评审：请把每站评审人数改为 "
                            f"{max(pool, 1)} 以下，或先添加评审专家账号", "reviewers_per_station")


def namesakes(db, name: str, *, besides=None) -> list[dict]:
    """Campaigns in force with the same name (spacing aside), to warn the organiser."""
    key = " ".join(str(name or "").split())
    rows = db.query("SELECT id, name, year, stage FROM campaigns WHERE archived_at IS NULL AND id != ? "
                    "ORDER BY id", [int(besides or 0)])
    return [{**r, "stage_name": STAGE_NAMES[r["stage"]]} for r in rows if " ".join(r["name"].split()) == key]


def namesake_warning(db, campaign_id) -> str:
    """A Chinese sentence when other campaigns in force share this one's name; empty otherwise."""
    campaign = get_campaign(db, campaign_id)
    same = namesakes(db, campaign["name"], besides=campaign["id"])
    if not same:
        return ""
    listed = "、".join(f"#{c['id']}（{c['year']} 年，{c['stage_name']}）" for c in same)
    return f"注意：已有同名活动 {listed}。如是重复创建，请撤销多余的一个；否则建议改名以免混淆"


def create_campaign(db, data, user) -> int:
    """A new campaign in stage 基层推荐 with its own copy of the 七有 rubric; returns its id.

    More reviewers per station than there are reviewers is refused; a name already in use
    is accepted (see :func:`namesake_warning`).  The campaign belongs to its creator's union (a city admin's to 北京市总工会; an admin
    of no union makes one of no union): only admins whose scope holds that union manage
    it, and its nominations come from that union's subtree."""
    _require_admin(user)
    fields = parse_campaign(data)
    _check_pool(db, fields["reviewers_per_station"])
    rubric = validate_rubric(data["rubric"]) if data.get("rubric") is not None else default_rubric()
    with write_transaction(db):
        campaign_id = db["campaigns"].insert({
            **fields, "normalise": int(fields["normalise"]), "stage": "nomination",
            "union_id": user.get("union_id"),  # the organiser's union runs it (None: no union, as before)
            "rubric": json.dumps(rubric, ensure_ascii=False), "created_by": user["username"],
            "created_at": now_iso()}).last_pk
        log_event(db, campaign_id, "create", username=user["username"], to_stage="nomination",
                  detail={k: fields[k] for k in ("quota", "reviewers_per_station", "notice_days")})
    return campaign_id


def update_campaign(db, campaign_id, data, user) -> dict:
    """Change the campaign's settings (the fields of :func:`create_campaign`): only before
    review starts.  Each change is logged (before → after).  Returns the changes."""
    _require_admin(user)
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user)
    require_open(campaign)
    if campaign["stage"] != "nomination":
        raise CampaignError(f"评审已开始（现为“{campaign['stage_name']}”），活动设置不能再改；如需停止活动，请撤销",
                            "stage", 409)
    fields = parse_campaign(data)
    _check_pool(db, fields["reviewers_per_station"])
    changes = {k: [campaign[k], fields[k]] for k in SETTINGS if campaign[k] != fields[k]}
    if changes:
        with write_transaction(db):
            db.execute(f"UPDATE campaigns SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                       [int(v[1]) if isinstance(v[1], bool) else v[1] for v in changes.values()] + [campaign["id"]])
            log_event(db, campaign["id"], "settings", username=user["username"],
                      reason="；".join(f"{SETTING_NAMES[k]}：{_shown(a)} → {_shown(b)}" for k, (a, b) in changes.items()),
                      detail={"changes": changes})
    return changes


def _shown(value) -> str:
    if value is None:
        return "不设"
    if isinstance(value, bool):
        return "是" if value else "否"
    return f"{value:g}" if isinstance(value, float) else str(value)


def archive_campaign(db, campaign_id, reason, user) -> dict:
    """Cancel a campaign at any stage: archived, not deleted (the log keeps it); a reason
    is required.  Awards already on stations' records stay."""
    _require_admin(user)
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user)
    require_open(campaign)
    reason = clean_text(reason, "reason", "撤销理由", 500, shortest=1)
    with write_transaction(db):
        db.execute("UPDATE campaigns SET archived_at = ?, archived_by = ?, archived_reason = ? WHERE id = ?",
                   [now_iso(), user["username"], reason, campaign["id"]])
        log_event(db, campaign["id"], "archive", username=user["username"], from_stage=campaign["stage"],
                  reason=reason)
    return get_campaign(db, campaign["id"])


def set_rubric(db, campaign_id, rubric, user) -> dict:
    """Replace the campaign's rubric: only before review starts."""
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user)
    require_open(campaign)
    if campaign["stage"] != "nomination":
        raise CampaignError("评审已开始，评审标准不能再修改", "rubric", 409)
    clean = validate_rubric(rubric)
    with write_transaction(db):
        db.execute("UPDATE campaigns SET rubric = ? WHERE id = ?",
                   [json.dumps(clean, ensure_ascii=False), campaign["id"]])
        log_event(db, campaign["id"], "rubric", username=user["username"],
                  detail={"criteria": [f"{c['name']}×{c['weight']:g}" for c in clean["criteria"]]})
    return clean


def set_priority_reading(db, campaign_id, reading, user) -> dict:
    """Choose how the campaign reads the notice's 有设施 sentence (``rubric.READINGS``):
    which facilities items are 优先推荐.  Only before review, like any rubric change."""
    _require_admin(user)
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user)
    require_open(campaign)
    if campaign["stage"] != "nomination":
        raise CampaignError("评审已开始，“优先推荐”的读法不能再改", "priority_reading", 409)
    rubric = with_reading(campaign["rubric"], reading)
    with write_transaction(db):
        db.execute("UPDATE campaigns SET rubric = ? WHERE id = ?",
                   [json.dumps(rubric, ensure_ascii=False), campaign["id"]])
        log_event(db, campaign["id"], "rubric", username=user["username"], reason=READINGS[reading],
                  detail={"priority_reading": reading})
    return rubric


def set_normalise(db, campaign_id, normalise: bool, user) -> None:
    """Whether the ranking normalises each reviewer: until the list goes to notice."""
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user)
    require_open(campaign)
    if campaign["stage"] in ("notice", "confirmed"):
        raise CampaignError("排名已公示，不能再改", "normalise", 409)
    with write_transaction(db):
        db.execute("UPDATE campaigns SET normalise = ? WHERE id = ?", [int(bool(normalise)), campaign["id"]])
        log_event(db, campaign["id"], "normalise", username=user["username"],
                  detail={"normalise": bool(normalise)})


def advance_stage(db, campaign_id, to_stage, user, *, reason="", force=False, thresholds=None,
                  notice_start=None, notice_workdays=False) -> dict:
    """Move the campaign one stage forward; CampaignError 409 for a skip, a step back or a
    move that is not yet allowed (reviews missing, objections open, notice period running)
    unless ``force`` with a reason where the rule allows it.  Returns the campaign.
    ``thresholds``: the ledger flags' for the ranking frozen at 公示 (default: settings).
    Moving to 公示, ``notice_start`` (YYYY-MM-DD, default today) and ``notice_workdays``
    (count ``notice_days`` as China's 工作日) set the period (see period.py)."""
    from .notice import confirm_campaign, freeze_ranking
    from .holds import pending_holds
    from .reviews import missing_reviews

    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user)
    require_open(campaign)
    if to_stage not in STAGES:
        raise CampaignError("阶段应为 review（综合评议）、notice（公示）或 confirmed（确认）", "stage")
    reason = clean_text(reason, "reason", "理由", 500)
    if not isinstance(force, bool):
        raise CampaignError("force 应为 true 或 false", "force")
    current = campaign["stage"]
    step = STAGES.index(to_stage) - STAGES.index(current)
    if step != 1:
        where = "后退" if step <= 0 else "跳过阶段"
        raise CampaignError(f"阶段只能逐一向前推进：当前为“{STAGE_NAMES[current]}”，不能{where}到"
                            f"“{STAGE_NAMES[to_stage]}”", "stage", 409)
    if force and not reason:
        raise CampaignError("强制推进必须写明理由", "reason")
    detail = {"forced": force}
    with write_transaction(db):
        if to_stage == "review":
            quotas = uses_quotas(db, campaign["id"])
            count = db.execute("SELECT count(*) FROM nominations WHERE campaign_id = ? AND removed_at IS NULL"
                               + (" AND forwarded_at IS NOT NULL" if quotas else ""), [campaign["id"]]).fetchone()[0]
            if not count:
                raise CampaignError("还没有推荐的站点，不能进入综合评议" if not quotas else
                                    "各区还没有推荐上报任何站点（本活动按推荐名额评选），不能进入综合评议", "stage", 409)
            if quotas:  # only what the districts forwarded goes on to review
                detail["not_forwarded"] = db.execute(
                    "UPDATE nominations SET removed_at = ?, removed_reason = ? WHERE campaign_id = ? "
                    "AND removed_at IS NULL AND forwarded_at IS NULL",
                    [now_iso(), "未获推荐上报（本活动按推荐名额评选）", campaign["id"]]).rowcount
            detail["nominations"] = count
        elif to_stage == "notice":
            held = pending_holds(db, campaign["id"])
            if held:
                raise CampaignError(f"还有 {held} 个站点处于“暂缓”状态：请在排名页恢复或排除后再进入公示",
                                    "stage", 409, detail={"held": held})
            missing = missing_reviews(db, campaign["id"])
            if missing and not force:
                raise CampaignError(f"还有 {missing} 份评审未提交：请等评审完成，或写明理由强制进入公示"
                                    "（只计已提交的评审）", "force", 409, detail={"missing": missing})
            detail["missing_reviews"] = missing
            # N days counted as the notice counts them, the first day included: 7 days from
            # 11-26 end on 12-02; objections are taken through the end day, confirmation after it.
            start = parse_notice_start(notice_start, today())
            workdays = parse_workdays(notice_workdays)
            end = notice_end(start, campaign["notice_days"], workdays)
            freeze_ranking(db, campaign, thresholds=thresholds)
            db.execute("UPDATE campaigns SET notice_start = ?, notice_end = ?, notice_workdays = ? WHERE id = ?",
                       [start.isoformat(), end.isoformat(), int(workdays), campaign["id"]])
            detail.update(notice_start=start.isoformat(), notice_end=end.isoformat(), workdays=workdays)
        elif to_stage == "confirmed":
            open_count = db.execute("SELECT count(*) FROM objections WHERE campaign_id = ? AND state = 'open'",
                                    [campaign["id"]]).fetchone()[0]
            if open_count:
                raise CampaignError(f"还有 {open_count} 条异议未处理，处理完才能确认", "stage", 409)
            if campaign["notice_end"] and today().isoformat() <= campaign["notice_end"] and not force:
                raise CampaignError(f"公示期到 {campaign['notice_end']}（含当天）才结束：请等公示期满，或写明理由强制确认",
                                    "force", 409)
            detail["awards"] = confirm_campaign(db, campaign, user)
            db.execute("UPDATE campaigns SET confirmed_at = ? WHERE id = ?", [today().isoformat(), campaign["id"]])
        db.execute("UPDATE campaigns SET stage = ? WHERE id = ?", [to_stage, campaign["id"]])
        log_event(db, campaign["id"], "stage", username=user["username"], from_stage=current,
                  to_stage=to_stage, reason=reason or None, detail=detail)
    return get_campaign(db, campaign["id"])
