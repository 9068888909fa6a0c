"""综合评议: assigning reviewers, the reviewer's queue and form, evidence of use, the ranking."""

from __future__ import annotations

import gc
import json
import math
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import orjson

from ..ledger.common import today
from ..ledger.flags import Thresholds
from ..storage import now_iso, write_transaction
from .assignment import Infeasible, able_reviewers, plan_assignment
from .eligibility import conflict_rule, reviewer_key, station_key
from .errors import CampaignError
from .holds import apply_holds
from .evidence import evidence_of_use, station_facts  # noqa: F401  (re-exported: part of this module's API)
from .ranking import LEDGER_DAYS, ReviewColumns, rank_campaign
from .tree import require_manager
from .store import (active_nominations, get_campaign, log_event, require_open, reviewers, typed_number,
                    user_by_name_or_id)

__all__ = ["SCORE_RULE", "assign_reviewers", "assignment_note", "reassign", "reassign_choices", "list_assignments", "reviewer_queue", "get_review",
           "save_review", "missing_reviews", "evidence_of_use", "live_ranking", "submitted_reviews"]


def _admin(db, campaign, user):
    require_manager(db, campaign, user, "分配评审")


def _refuse(db, campaign_id, user, message, detail, field=None):
    """Refuse a forged or tampered request with 403, and write it in the campaign's log."""
    with write_transaction(db):
        log_event(db, campaign_id, "refused", username=user["username"], reason=message, detail=detail)
    return CampaignError(message, field, 403)


def assign_reviewers(db, campaign_id, user) -> list[dict]:
    """Assign every nominee its reviewers in one go (see assignment.py for the rule).

    Only in 综合评议 before any review is saved; replaces earlier assignments.  When
    conflicts of interest make even loads impossible, the most even assignment is made and
    the log's ``assign`` line says who got fewer and why (:func:`assignment_note`).  Only
    when a station cannot get its reviewers, CampaignError 409 names the stations
    (``detail["stations"]``) and nothing is written.
    """
    campaign = get_campaign(db, campaign_id)
    _admin(db, campaign, user)
    require_open(campaign)
    if campaign["stage"] != "review":
        raise CampaignError(f"只能在综合评议阶段分配评审（现为“{campaign['stage_name']}”）", "stage", 409)
    nominees = active_nominations(db, campaign["id"])
    pool = reviewers(db)
    k = campaign["reviewers_per_station"]
    rule = conflict_rule(db, campaign["union_id"])
    stations = [{"id": n["station_id"], "host_union": n["host_union"], "host_union_id": n["host_union_id"]}
                for n in nominees]
    try:
        plan = plan_assignment(stations, pool, k, rule=rule)
    except Infeasible as exc:
        names = {n["station_id"]: n["name"] for n in nominees}
        listed = [{"id": sid, "name": names.get(sid)} for sid in exc.stations]
        shown = "、".join(f"{s['name']}（{s['id']}）" for s in listed[:10])
        more = f"等 {len(listed)} 个站点" if len(listed) > 10 else ""
        raise CampaignError(f"无法分配：{exc.message}。涉及：{shown}{more}。未做任何分配。", "assignments",
                            409, detail={"stations": listed}) from None
    stamp = now_iso()
    with write_transaction(db):
        if db.execute("SELECT count(*) FROM reviews WHERE campaign_id = ?", [campaign["id"]]).fetchone()[0]:
            raise CampaignError("已有评审开始打分，不能再自动分配；请逐个调整", "assignments", 409)
        db.execute("DELETE FROM assignments WHERE campaign_id = ?", [campaign["id"]])
        db.conn.executemany(
            "INSERT INTO assignments (campaign_id, station_id, reviewer_id, assigned_by, assigned_at) "
            "VALUES (?, ?, ?, ?, ?)", [(campaign["id"], s, r, user["username"], stamp) for s, r in plan.pairs])
        loads = [n for rid, n in plan.loads.items() if rid not in plan.left_out]
        log_event(db, campaign["id"], "assign", username=user["username"], reason=plan.note or None,
                  detail={"stations": len(nominees), "reviewers": len(pool) - len(plan.left_out), "per_station": k,
                          "load_min": min(loads, default=0), "load_max": max(loads, default=0),
                          "left_out": [r["username"] for r in pool if r["id"] in plan.left_out],
                          "left_out_reasons": _left_out_reasons(rule, pool, plan.left_out, stations),
                          "fewer": plan.fewer})
    return list_assignments(db, campaign["id"])


def _left_out_reasons(rule, pool, left_out, stations) -> list[str]:
    """Each reviewer left out, with why: "rv_x（朝阳区总工会）：与“朝阳区总工会”的站点同属一条工会线"."""
    keys = list(dict.fromkeys(station_key(s) for s in stations))
    return [f"{r['username']}（{r['union_name'] or '未登记工会'}）：{rule.reasons(reviewer_key(r), keys)}"
            for r in pool if r["id"] in left_out]


def assignment_note(db, campaign_id) -> str:
    """What the last automatic assignment said about uneven loads (who got fewer and
    why); empty when loads were within one."""
    row = db.execute("SELECT reason FROM campaign_events WHERE campaign_id = ? AND kind = 'assign' "
                     "ORDER BY id DESC LIMIT 1", [int(campaign_id)]).fetchone()
    return (row[0] or "") if row else ""


def list_assignments(db, campaign_id, *, reviewer_id=None) -> list[dict]:
    """Assignments as {"station_id", "reviewer", "state", …}; only one reviewer's when
    ``reviewer_id``.  ``state``: todo, draft, submitted, or held (a conflict of interest
    no one could take over: see conflicts.py; ``held`` says why)."""
    sql = ("SELECT a.station_id, u.username AS reviewer, u.id AS reviewer_id, s.name, a.held, "
           "r.submitted_at, r.updated_at FROM assignments a JOIN users u ON u.id = a.reviewer_id "
           "JOIN stations s ON s.id = a.station_id LEFT JOIN reviews r ON r.campaign_id = a.campaign_id "
           "AND r.station_id = a.station_id AND r.reviewer_id = a.reviewer_id AND r.set_aside IS NULL "
           "WHERE a.campaign_id = ?")
    params = [int(campaign_id)]
    if reviewer_id is not None:
        sql += " AND a.reviewer_id = ?"
        params.append(int(reviewer_id))
    rows = db.query(sql + " ORDER BY a.station_id, u.username", params)
    return [{**r, "state": "held" if r["held"] else "submitted" if r["submitted_at"]
             else ("draft" if r["updated_at"] else "todo")} for r in rows]


def reassign(db, campaign_id, data, user) -> None:
    """Replace one reviewer of a station by another; with ``swap_station`` the other gives
    that station back, so loads stay within one.  Same rule as automatic assignment:
    a conflict of interest or a user who is not a reviewer is a forged request (403, logged).
    """
    campaign = get_campaign(db, campaign_id)
    _admin(db, campaign, user)
    require_open(campaign)
    if campaign["stage"] != "review":
        raise CampaignError("只能在综合评议阶段调整评审", "stage", 409)
    try:
        station_id = int(data.get("station_id"))
    except (TypeError, ValueError):
        raise CampaignError("请选择站点", "station_id") from None
    nominees = {n["station_id"]: n for n in active_nominations(db, campaign["id"])}
    if station_id not in nominees:
        raise _refuse(db, campaign["id"], user, f"站点 {station_id} 不是本活动的参评站点",
                      {"action": "reassign", "station_id": station_id}, "station_id")
    old, new = user_by_name_or_id(db, data.get("from_reviewer")), user_by_name_or_id(db, data.get("to_reviewer"))
    if old is None:
        raise CampaignError("请选择要替换的评审", "from_reviewer")
    if new is None or new["role"] != "reviewer":
        raise _refuse(db, campaign["id"], user, "只能分配给评审专家",
                      {"action": "reassign", "to_reviewer": str(data.get("to_reviewer"))[:40]}, "to_reviewer")
    moves = [(station_id, old, new)]
    swap = data.get("swap_station")
    if swap not in (None, ""):
        try:
            swap = int(swap)
        except (TypeError, ValueError):
            raise CampaignError("交换的站点编号应是整数", "swap_station") from None
        if swap not in nominees:
            raise _refuse(db, campaign["id"], user, f"站点 {swap} 不是本活动的参评站点",
                          {"action": "reassign", "station_id": swap}, "swap_station")
        moves.append((swap, new, old))
    rule = conflict_rule(db, campaign["union_id"])
    for sid, giver, taker in moves:
        mine, theirs = reviewer_key(taker), station_key(nominees[sid])
        if rule.conflict(mine, theirs):
            raise _refuse(db, campaign["id"], user,
                          f"利益冲突：{taker['username']}（{taker['union_name'] or '未登记工会'}）"
                          f"{rule.reason(mine, theirs)}，不能评审站点“{nominees[sid]['name']}”"
                          f"（{nominees[sid]['host_union']}）",
                          {"action": "reassign", "station_id": sid, "reviewer": taker["username"]}, "to_reviewer")
    with write_transaction(db):
        before = _loads(db, campaign["id"], nominees, rule)
        spread_before = max(before) - min(before) if before else 0
        for sid, giver, taker in moves:
            on = {r[0] for r in db.execute("SELECT reviewer_id FROM assignments WHERE campaign_id = ? "
                                           "AND station_id = ?", [campaign["id"], sid])}
            if giver["id"] not in on:
                raise CampaignError(f"{giver['username']} 没有被分配评审站点 {sid}", "from_reviewer")
            if taker["id"] in on:
                raise CampaignError(f"{taker['username']} 已在评审站点 {sid}", "to_reviewer")
            if db.execute("SELECT count(*) FROM reviews WHERE campaign_id = ? AND station_id = ? AND reviewer_id = ? "
                          "AND set_aside IS NULL", [campaign["id"], sid, giver["id"]]).fetchone()[0]:
                raise CampaignError(f"{giver['username']} 已开始评审站点 {sid}，不能替换", "from_reviewer", 409)
            if db.execute("SELECT count(*) FROM reviews WHERE campaign_id = ? AND station_id = ? AND reviewer_id = ?",
                          [campaign["id"], sid, taker["id"]]).fetchone()[0]:
                raise CampaignError(f"{taker['username']} 对站点 {sid} 的评审已因利益冲突作废，不能再评审该站",
                                    "to_reviewer", 409)
            db.execute("UPDATE assignments SET reviewer_id = ?, assigned_by = ?, assigned_at = ?, held = NULL "
                       "WHERE campaign_id = ? AND station_id = ? AND reviewer_id = ?",
                       [taker["id"], user["username"], now_iso(), campaign["id"], sid, giver["id"]])
        loads = _loads(db, campaign["id"], nominees, rule)
        # Within one, or at least no further apart than before: a reviewer moved off a
        # station whose union became theirs (conflicts.py) may have left them apart.
        if loads and max(loads) - min(loads) > max(1, spread_before):
            raise CampaignError(f"调整后评审工作量从 {min(loads)} 到 {max(loads)} 不等（相差应不超过 1）："
                                "请同时交换一个站点", "swap_station")
        log_event(db, campaign["id"], "reassign", username=user["username"],
                  detail={"moves": [{"station_id": s, "from": g["username"], "to": t["username"]}
                                    for s, g, t in moves]})


def reassign_choices(db, campaign_id, station_id) -> dict:
    """Who may be changed on one station: ``on`` its reviewers (with their state), and
    ``eligible`` the reviewers who may take it over (no conflict of interest, not on it,
    no review of it set aside), least loaded first, each with ``load``."""
    campaign = get_campaign(db, campaign_id)
    rule = conflict_rule(db, campaign.get("union_id"))
    nominee = next((n for n in active_nominations(db, campaign["id"]) if n["station_id"] == int(station_id)), None)
    if nominee is None:
        return {"station": None, "on": [], "eligible": []}
    on = [a for a in list_assignments(db, campaign["id"]) if a["station_id"] == nominee["station_id"]]
    taken = {a["reviewer_id"] for a in on} | {r[0] for r in db.execute(
        "SELECT reviewer_id FROM reviews WHERE campaign_id = ? AND station_id = ?", [campaign["id"], nominee["station_id"]])}
    loads = dict(db.execute("SELECT reviewer_id, count(*) FROM assignments WHERE campaign_id = ? GROUP BY reviewer_id",
                            [campaign["id"]]).fetchall())
    eligible = [{**r, "load": loads.get(r["id"], 0)} for r in reviewers(db)
                if r["id"] not in taken and not rule.conflict(reviewer_key(r), station_key(nominee))]
    return {"station": nominee, "on": on, "eligible": sorted(eligible, key=lambda r: (r["load"], r["id"]))}


def _loads(db, campaign_id, nominees, rule) -> list[int]:
    """Each reviewer's number of stations in the campaign; one who cannot review any
    nominee and has none takes no part."""
    counted = db.execute(
        "SELECT u.id, u.union_name, u.union_id, count(a.station_id) FROM users u LEFT JOIN assignments a "
        "ON a.reviewer_id = u.id AND a.campaign_id = ? WHERE u.role = 'reviewer' GROUP BY u.id",
        [campaign_id]).fetchall()
    pool = able_reviewers([{"id": sid, "host_union": n["host_union"], "host_union_id": n["host_union_id"]}
                           for sid, n in nominees.items()],
                          [{"id": i, "union_name": union, "union_id": uid} for i, union, uid, _ in counted], rule)
    able = {r["id"] for r in pool}
    return [n for i, _, _, n in counted if i in able or n]


def _decode_review(row) -> dict:
    return {**row, "scores": json.loads(row["scores"]), "items": json.loads(row["items"]),
            "notes": json.loads(row["notes"]), "submitted": row["submitted_at"] is not None}


def get_review(db, campaign_id, station_id, reviewer_id) -> dict | None:
    """One reviewer's own review of one station (never anyone else's)."""
    rows = list(db.query("SELECT * FROM reviews WHERE campaign_id = ? AND station_id = ? AND reviewer_id = ?",
                         [int(campaign_id), int(station_id), int(reviewer_id)]))
    return _decode_review(rows[0]) if rows else None


def reviewer_queue(db, campaign_id, reviewer_id) -> list[dict]:
    """The reviewer's stations to review (a held assignment is not theirs to review)."""
    return [a for a in list_assignments(db, campaign_id, reviewer_id=reviewer_id) if a["state"] != "held"]


SCORE_RULE = "可带一位小数，如 7.5 或 7,5"  # more decimals are rounded to one (the API says so)


def parse_review(data, rubric, *, submit: bool) -> dict:
    """Check a review's scores, ticked items and notes against the campaign's rubric."""
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    criteria = {c["key"]: c for c in rubric["criteria"]}
    scores_in = data.get("scores") or {}
    if not isinstance(scores_in, dict):
        raise CampaignError("scores 应是 {标准代码: 0–10 分}", "scores")
    scores = {}
    for key, value in scores_in.items():
        if key not in criteria:
            raise CampaignError(f"没有代码为“{str(key)[:30]}”的评审标准", f"scores.{str(key)[:30]}")
        if value in (None, ""):
            continue
        try:
            number = (math.nan if isinstance(value, bool) else typed_number(value) if isinstance(value, str)
                      else float(value))
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and 0 <= number <= 10):
            raise CampaignError(f"“{criteria[key]['name']}”的分数应在 0 到 10 之间（{SCORE_RULE}），"
                                f"收到“{str(value)[:20]}”", f"scores.{key}")
        scores[key] = round(number, 1)  # SCORE_RULE: one decimal
    if submit:
        missing = [key for key in criteria if key not in scores]
        if missing:
            names = "、".join(f"“{criteria[k]['name']}”" for k in missing)
            raise CampaignError(f"提交前请为{names}打分（还差 {len(missing)} 项）", f"scores.{missing[0]}",
                                detail={"missing": missing})
    items_in = data.get("items") or []
    if not isinstance(items_in, list):
        raise CampaignError("items 应是细项代码的列表", "items")
    known = {i["key"] for c in rubric["criteria"] for i in c["items"]}
    unknown = [str(i)[:30] for i in items_in if i not in known]
    if unknown:
        raise CampaignError("不认识的细项：" + "、".join(unknown), "items")
    notes_in = data.get("notes") or {}
    if not isinstance(notes_in, dict):
        raise CampaignError("notes 应是 {标准代码: 依据说明}", "notes")
    from .store import clean_text

    notes = {}
    for key, value in notes_in.items():
        if key not in criteria:
            raise CampaignError(f"没有代码为“{str(key)[:30]}”的评审标准", f"notes.{str(key)[:30]}")
        text = clean_text(value, f"notes.{key}", f"“{criteria[key]['name']}”的依据说明", 500)
        if text:
            notes[key] = text
    note = clean_text(data.get("note"), "note", "总体说明", 1000)
    return {"scores": scores, "items": sorted(set(items_in)), "notes": notes, "note": note}


def save_review(db, campaign_id, station_id, data, user) -> tuple[dict, bool]:
    """Keep a draft or submit a review; returns (review, created).

    409 outside 综合评议 or once submitted (a submitted review is locked); 403 (logged)
    when the station is not assigned to this reviewer.
    """
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    submit = data.get("submit", False) if isinstance(data, dict) else False
    if not isinstance(submit, bool):
        raise CampaignError("submit 应为 true 或 false", "submit")
    if campaign["stage"] != "review":
        raise CampaignError(f"现在不是综合评议阶段（现为“{campaign['stage_name']}”），不能评分", "stage", 409)
    try:
        station_id = int(station_id)
    except (TypeError, ValueError):
        raise CampaignError("请填写站点编号（整数）", "station_id") from None
    assigned = db.execute("SELECT held FROM assignments WHERE campaign_id = ? AND station_id = ? "
                          "AND reviewer_id = ?", [campaign["id"], station_id, user["id"]]).fetchall()
    if not assigned:
        raise _refuse(db, campaign["id"], user, f"站点 {station_id} 没有分配给您评审",
                      {"action": "review", "station_id": station_id}, "station_id")
    if assigned[0][0]:
        raise CampaignError(f"{assigned[0][0]}，您与该站同属一个工会，不能再评审它；组织者会另行安排",
                            "station_id", 409)
    try:
        clean = parse_review(data, campaign["rubric"], submit=submit)
    except CampaignError as exc:
        if not exc.detail.get("missing"):
            raise
        # A submit refused for missing scores keeps the work: saved as a draft, then refused.
        save_review(db, campaign["id"], station_id, {**data, "submit": False}, user)
        exc.message += "。已填写的内容已存为草稿"
        exc.detail["draft_saved"] = True
        raise
    stamp = now_iso()
    with write_transaction(db):
        existing = get_review(db, campaign["id"], station_id, user["id"])
        if existing and existing["submitted"]:
            raise CampaignError("这份评审已提交锁定，不能再修改", "submit", 409)
        row = {"scores": json.dumps(clean["scores"]), "items": json.dumps(clean["items"]),
               "notes": json.dumps(clean["notes"], ensure_ascii=False), "note": clean["note"],
               "updated_at": stamp, "submitted_at": stamp if submit else None}
        if existing:
            db["reviews"].update(existing["id"], row)
        else:
            db["reviews"].insert({"campaign_id": campaign["id"], "station_id": station_id,
                                  "reviewer_id": user["id"], **row})
    return get_review(db, campaign["id"], station_id, user["id"]), existing is None


def missing_reviews(db, campaign_id) -> int:
    """Reviews still owed: assignments without a submitted review, plus nominees without
    enough reviewers assigned."""
    campaign = get_campaign(db, campaign_id)
    owed = db.execute(
        "SELECT count(*) FROM assignments a JOIN nominations n ON n.campaign_id = a.campaign_id "
        "AND n.station_id = a.station_id AND n.removed_at IS NULL LEFT JOIN reviews r "
        "ON r.campaign_id = a.campaign_id AND r.station_id = a.station_id AND r.reviewer_id = a.reviewer_id "
        "AND r.set_aside IS NULL WHERE a.campaign_id = ? AND r.submitted_at IS NULL", [campaign["id"]]).fetchone()[0]
    short = db.execute(
        "SELECT coalesce(sum(max(0, ? - (SELECT count(*) FROM assignments a WHERE a.campaign_id = n.campaign_id "
        "AND a.station_id = n.station_id))), 0) FROM nominations n WHERE n.campaign_id = ? AND n.removed_at IS NULL",
        [campaign["reviewers_per_station"], campaign["id"]]).fetchone()[0]
    return owed + short


def submitted_reviews(db, campaign_id) -> list[dict]:
    """Submitted reviews of nominees still in the running, but not those set aside (a
    conflict of interest found later: conflicts.py); orjson: 25,000 rows in ~50 ms."""
    # One JSON document built by SQLite, parsed once: far cheaper than 50,000 small parses.
    text = db.execute(
        "SELECT json_group_array(json_array(r.id, r.station_id, r.reviewer_id, json(r.scores), json(r.items))) "
        "FROM reviews r JOIN nominations n ON n.campaign_id = r.campaign_id AND n.station_id = r.station_id "
        "AND n.removed_at IS NULL WHERE r.campaign_id = ? AND r.submitted_at IS NOT NULL AND r.set_aside IS NULL",
        [int(campaign_id)]).fetchone()[0]
    return [{"id": i, "station_id": s, "reviewer_id": u, "scores": sc, "items": it}
            for i, s, u, sc, it in orjson.loads(text or "[]")]


def submitted_review_columns(db, campaign_id, keys) -> ReviewColumns:
    """``submitted_reviews`` as columns, the scores in the order of ``keys`` (NaN where missing).

    The score and item texts are joined and parsed by orjson in one call each (25,000
    reviews: ~70 ms in all, half of it SQLite), and the scores laid out criterion by criterion.
    """
    rows = db.execute(
        "SELECT r.id, r.station_id, r.reviewer_id, r.scores, r.items FROM reviews r JOIN nominations n "
        "ON n.campaign_id = r.campaign_id AND n.station_id = r.station_id AND n.removed_at IS NULL "
        "WHERE r.campaign_id = ? AND r.submitted_at IS NOT NULL AND r.set_aside IS NULL ORDER BY r.id",
        [int(campaign_id)]).fetchall()
    if not rows:
        return ReviewColumns([], [], [], np.zeros((0, len(keys))), [])
    ids, stations, reviewer_ids, scores_text, items_text = zip(*rows)
    parsed = orjson.loads("[" + ",".join(scores_text) + "]")
    scores = np.full((len(rows), len(keys)), np.nan)
    for j, key in enumerate(keys):
        scores[:, j] = [np.nan if (v := d.get(key)) is None else v for d in parsed]
    return ReviewColumns(list(ids), list(stations), list(reviewer_ids), scores,
                         orjson.loads("[" + ",".join(items_text) + "]"))


_RANKINGS: dict = {}  # fingerprint -> ranking: the organiser's page reloads without recomputing


def _fingerprint(db, campaign, normalise) -> tuple:
    """Everything a live ranking depends on: reviews, nominees, stations, feedback, rubric,
    and the ledger's last 90 days (the day; entries, visits and check-ins of the nominees'
    months from the window on, kept up to date by triggers; replaced entries; meetings)."""
    window = today() - timedelta(days=LEDGER_DAYS - 1)
    ledger = db.execute(
        "SELECT (SELECT coalesce(sum(m.entries), 0) || ':' || coalesce(sum(m.visits), 0) || ':' || "
        "        coalesce(sum(m.services), 0) || ':' || coalesce(sum(m.checkins), 0) "
        "        FROM nominations n JOIN ledger_months m ON m.station_id = n.station_id AND m.month >= :m "
        "        WHERE n.campaign_id = :c AND n.removed_at IS NULL), "
        "(SELECT coalesce(max(id), 0) FROM ledger_history), "
        "(SELECT count(*) || ':' || coalesce(max(id), 0) FROM meetings WHERE station_id IS NOT NULL)",
        {"c": campaign["id"], "m": window.isoformat()[:7]}).fetchone()
    row = db.execute(
        "SELECT (SELECT count(*) || ':' || coalesce(max(updated_at), '') || ':' || coalesce(max(id), 0) "
        "        || ':' || count(set_aside) FROM reviews WHERE campaign_id = :c AND submitted_at IS NOT NULL), "
        "(SELECT count(*) || ':' || coalesce(max(removed_at), '') || ':' || count(hold) || ':' || "
        "        coalesce(max(hold_at), '') FROM nominations WHERE campaign_id = :c), "
        "(SELECT value FROM meta WHERE key = 'stations_version'), "
        "(SELECT coalesce(max(id), 0) || ':' || count(resolved_at) FROM feedback)", {"c": campaign["id"]}).fetchone()
    path = db.execute("PRAGMA database_list").fetchone()[2]
    return (path, campaign["id"], bool(normalise), json.dumps(campaign["rubric"], sort_keys=True), *row,
            window.isoformat(), *ledger)


def live_ranking(db, campaign, *, normalise: bool | None = None, thresholds: Thresholds | None = None) -> dict:
    """The ranking from the submitted reviews as they stand (the organiser's view);
    ``thresholds``: the ledger flags' (default: the settings in the environment).

    Kept per process while nothing it depends on changes (see ``_fingerprint``)."""
    normalise = campaign["normalise"] if normalise is None else normalise
    thresholds = thresholds or Thresholds.from_settings()
    key = (_fingerprint(db, campaign, normalise), thresholds)
    if key in _RANKINGS:
        return _RANKINGS[key]
    result = _compute_ranking(db, campaign, normalise, thresholds)
    if len(_RANKINGS) > 16:
        _RANKINGS.clear()
    _RANKINGS[key] = result
    return result


@contextmanager
def _collector_paused():
    """Run without Python's cyclic garbage collector: building a ranking allocates some
    hundred thousand small objects (none in cycles), and the collections they set off
    over a whole web worker's heap cost more than the work itself (~40% of it).
    Nothing yields to another greenlet meanwhile (SQLite calls block), so no other
    request runs with the collector off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compute_ranking(db, campaign, normalise: bool, thresholds: Thresholds) -> dict:
    with _collector_paused():
        return _ranking_now(db, campaign, normalise, thresholds)


def _ranking_now(db, campaign, normalise: bool, thresholds: Thresholds) -> dict:
    nominees = [{"station_id": n["station_id"], "name": n["name"], "district": n["district"],
                 "host_union": n["host_union"]} for n in active_nominations(db, campaign["id"])]
    evidence = evidence_of_use(db, [n["station_id"] for n in nominees])
    keys = [c["key"] for c in campaign["rubric"]["criteria"]]
    result = rank_campaign(nominees, submitted_review_columns(db, campaign["id"], keys), campaign["rubric"],
                           normalise=normalise, evidence=evidence, thresholds=thresholds)
    result["normalise"] = normalise
    return apply_holds(db, campaign["id"], result)
