"""公示 and 确认: the provisional list, public objections, the frozen award list and exports."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3

from ..registry.exporter import _cell as defuse_cell
from ..accounts.limits import Limit, take
from ..storage import get_station, now_iso, update_station, write_transaction
from .checklist import checklists_from_campaign
from .errors import CampaignError, NotFound
from .period import period_of
from .reviews import live_ranking
from .store import clean_text, get_campaign, log_event, require_open, today
from .tree import require_manager

__all__ = ["ALREADY_RECEIVED", "freeze_ranking", "notice_list", "lodge_objection", "resolve_objection",
           "list_objections", "confirm_campaign", "award_rows", "awards_xlsx", "awards_csv", "award_title"]


def award_title(campaign) -> str:
    """The honour, named after who awards it: 2026年北京市最美工会户外劳动者服务站点."""
    return f"{campaign['year']}年{campaign.get('awarder') or ''}最美工会户外劳动者服务站点"


def freeze_ranking(db, campaign, *, thresholds=None) -> dict:
    """Compute the ranking once, from the submitted reviews, and keep it for 公示 and 确认
    (riders' ratings may change later; the list must not).  Call inside a transaction."""
    result = live_ranking(db, campaign, thresholds=thresholds)
    if not any(r["rank"] for r in result["ranking"]):
        raise CampaignError("还没有任何已提交的评审，不能进入公示", "stage", 409)
    db.execute("UPDATE campaigns SET ranking = ? WHERE id = ?",
               [json.dumps(result, ensure_ascii=False), campaign["id"]])
    return result


def _removed(db, campaign_id) -> set:
    return {r[0] for r in db.execute("SELECT station_id FROM nominations WHERE campaign_id = ? "
                                     "AND removed_at IS NOT NULL", [int(campaign_id)])}


def notice_list(db, campaign_id) -> dict:
    """The public list: during 公示 the top of the frozen ranking up to the quota, without
    stations removed by an upheld objection (the next in rank moves up); after 确认 the
    frozen award list.  NotFound before 公示."""
    campaign = get_campaign(db, campaign_id)
    if campaign["stage"] not in ("notice", "confirmed") or campaign["archived"]:
        raise NotFound("not published yet, or cancelled")
    period = {"start": campaign["notice_start"], "end": campaign["notice_end"]}
    if campaign["stage"] == "confirmed":
        rows = list(db.query("SELECT a.rank, a.station_id, s.name, s.district, a.total FROM awards a "
                             "JOIN stations s ON s.id = a.station_id WHERE a.campaign_id = ? ORDER BY a.rank",
                             [campaign["id"]]))
    else:
        removed = _removed(db, campaign["id"])
        rows = []
        mark = campaign.get("pass_mark")
        for row in campaign["ranking"]["ranking"]:
            if row["rank"] is None or row["station_id"] in removed or row.get("hold"):
                continue
            if mark is not None and row["total"] < mark:
                break  # the ranking is in order of total: no one after passes either
            rows.append({"rank": len(rows) + 1, "station_id": row["station_id"], "name": row["name"],
                         "district": row.get("district"), "total": row["total"]})
            if len(rows) == campaign["quota"]:
                break
    return {"id": campaign["id"], "name": campaign["name"], "year": campaign["year"],
            "level": campaign["level"], "stage": campaign["stage"], "stage_name": campaign["stage_name"],
            "quota": campaign["quota"], "period": period, "schedule": period_of(campaign, today()), "stations": rows}


def lodge_objection(db, campaign_id, data, *, client: str, limits: dict) -> dict:
    """Anyone's objection to a listed station during 公示: a reason, nothing personal stored.

    Rate-limited like rider feedback (per client, then for everyone); ``client`` is only
    used to count and to tell the same objection sent again (a second click, a retry):
    the same words (whitespace aside) about the same station from the same client are stored
    once, and the answer is the first one's, with ``duplicate`` true.  What is stored is
    a hash of campaign, station, client and words (``_objection_key``), never the client.
    """
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    if campaign["stage"] != "notice":
        raise CampaignError("现在不在公示期，不能提出异议", "stage", 409)
    if campaign["notice_end"] and today().isoformat() > campaign["notice_end"]:
        raise CampaignError(f"公示期已于 {campaign['notice_end']} 结束", "stage", 409)
    if campaign["notice_start"] and today().isoformat() < campaign["notice_start"]:
        raise CampaignError(f"公示期自 {campaign['notice_start']} 开始，请届时再提出异议", "stage", 409)
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    try:
        station_id = int(str(data.get("station_id")).strip())
    except (TypeError, ValueError):
        raise CampaignError("请选择要提出异议的站点", "station_id") from None
    listed = {r["station_id"]: r["name"] for r in notice_list(db, campaign["id"])["stations"]}
    if station_id not in listed:
        raise CampaignError("该站点不在公示名单上", "station_id")
    reason = clean_text(data.get("reason"), "reason", "异议理由", 500, shortest=5)
    key = _objection_key(campaign["id"], station_id, client, reason)
    rules = [Limit(f"objection-client:{client}", limits["per_client"], limits.get("window_s", 600), "client"),
             Limit("objection-global", limits["global"], 60, "global")]
    with write_transaction(db):
        take(db, rules)  # a repeat counts as a try: sending the same words in a loop is still limited
        same = _same_objection(db, campaign["id"], key)
        if same is not None:
            return same
        try:
            oid = db["objections"].insert({"campaign_id": campaign["id"], "station_id": station_id,
                                           "reason": reason, "created_at": now_iso(), "state": "open",
                                           "fingerprint": key}).last_pk
        except sqlite3.IntegrityError:  # UNIQUE (campaign_id, fingerprint): stored meanwhile
            return _same_objection(db, campaign["id"], key)
        log_event(db, campaign["id"], "objection", detail={"objection": oid, "station_id": station_id,
                                                           "name": listed[station_id]})
    return {"id": oid, "campaign_id": campaign["id"], "station_id": station_id, "state": "open",
            "duplicate": False}


ALREADY_RECEIVED = "已收到相同的异议，无需重复提交；组织者会逐条核实处理。"


def _objection_key(campaign_id, station_id, client, reason) -> str:
    """What tells the same objection sent again: campaign, station, client and the words
    without any whitespace (line ends, spaces, full-width spaces: a line break in the
    middle of a Chinese sentence is the same sentence)."""
    words = "".join(reason.split())
    return hashlib.sha256(f"{int(campaign_id)}|{int(station_id)}|{client}|{words}".encode()).hexdigest()[:32]


def _same_objection(db, campaign_id, key) -> dict | None:
    row = db.execute("SELECT id, station_id, state FROM objections WHERE campaign_id = ? AND fingerprint = ?",
                     [int(campaign_id), key]).fetchone()
    if row is None:
        return None
    return {"id": row[0], "campaign_id": int(campaign_id), "station_id": row[1], "state": row[2],
            "duplicate": True, "message": ALREADY_RECEIVED}


def list_objections(db, campaign_id) -> list[dict]:
    return list(db.query("SELECT o.*, s.name FROM objections o JOIN stations s ON s.id = o.station_id "
                         "WHERE o.campaign_id = ? ORDER BY o.state != 'open', o.id", [int(campaign_id)]))


def resolve_objection(db, campaign_id, objection_id, data, user) -> dict:
    """The organiser's decision: upheld removes the station from the list (the next in rank
    moves up), rejected keeps it; either way with a reason, recorded."""
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user, "处理异议")
    require_open(campaign)
    if campaign["stage"] != "notice":
        raise CampaignError("只能在公示阶段处理异议", "stage", 409)
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    upheld = data.get("upheld")
    if isinstance(upheld, str) and upheld in ("1", "0", "true", "false"):
        upheld = upheld in ("1", "true")
    if not isinstance(upheld, bool):
        raise CampaignError("请选择成立（upheld: true）或不成立（false）", "upheld")
    reason = clean_text(data.get("reason"), "reason", "处理理由", 500, shortest=1)
    rows = list(db.query("SELECT * FROM objections WHERE id = ? AND campaign_id = ?",
                         [int(objection_id), campaign["id"]]))
    if not rows:
        raise NotFound(f"no objection {objection_id}")
    objection = rows[0]
    if objection["state"] != "open":
        raise CampaignError("这条异议已经处理过了", "upheld", 409)
    with write_transaction(db):
        state = "upheld" if upheld else "rejected"
        db.execute("UPDATE objections SET state = ?, resolved_by = ?, resolved_at = ?, resolution = ? WHERE id = ?",
                   [state, user["username"], now_iso(), reason, objection["id"]])
        if upheld:
            db.execute("UPDATE nominations SET removed_at = ?, removed_reason = ? WHERE campaign_id = ? "
                       "AND station_id = ? AND removed_at IS NULL",
                       [now_iso(), f"异议成立：{reason}", campaign["id"], objection["station_id"]])
        log_event(db, campaign["id"], "resolve", username=user["username"], reason=reason,
                  detail={"objection": objection["id"], "station_id": objection["station_id"], "upheld": upheld,
                          "name": (db.execute("SELECT name FROM stations WHERE id = ?",
                                              [objection["station_id"]]).fetchone() or [None])[0]})
    return {"id": objection["id"], "state": state, "station_id": objection["station_id"]}


def confirm_campaign(db, campaign, user) -> int:
    """Freeze the list: awards table, the award on each winner's record, and the 七有
    checklist of every reviewed nominee.  Call inside the stage move's transaction."""
    winners = notice_list(db, campaign["id"])["stations"]
    stamp = now_iso()
    title = award_title(campaign)
    for row in winners:
        db.execute("INSERT INTO awards (campaign_id, station_id, rank, total, subsidy_yuan, confirmed_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", [campaign["id"], row["station_id"], row["rank"], row["total"],
                                                 campaign["subsidy_yuan"], stamp])
        station = get_station(db, row["station_id"])
        awards = [a for a in station["awards"] if not (isinstance(a, dict) and a.get("campaign_id") == campaign["id"])]
        awards.append({"title": title, "campaign_id": campaign["id"], "year": campaign["year"],
                       "level": campaign["level"], "rank": row["rank"], "total": row["total"],
                       "subsidy_yuan": campaign["subsidy_yuan"]})
        update_station(db, row["station_id"], {"awards": awards}, username=user["username"],
                       action=f"award:{campaign['id']}")
    checklists_from_campaign(db, campaign, username=user["username"])
    return len(winners)


def award_rows(db, campaign_id) -> tuple[dict, list[dict]]:
    """(campaign, rows) of the confirmed award list, for exports."""
    campaign = get_campaign(db, campaign_id)
    if campaign["stage"] != "confirmed":
        raise CampaignError("活动确认后才能导出获奖名单", "stage", 409)
    rows = list(db.query("SELECT a.rank, a.station_id, s.name, s.district, s.address, s.host_union, a.total, "
                         "a.subsidy_yuan FROM awards a JOIN stations s ON s.id = a.station_id "
                         "WHERE a.campaign_id = ? ORDER BY a.rank", [campaign["id"]]))
    return campaign, rows


_COLUMNS = [("rank", "名次"), ("station_id", "站点编号"), ("name", "站点名称"), ("district", "所在区"),
            ("address", "地址"), ("host_union", "所属工会"), ("total", "总分"), ("subsidy_yuan", "奖补资金（元）")]


def _table(campaign, rows):
    yield [label for _, label in _COLUMNS]
    for row in rows:
        yield [defuse_cell(row[key]) for key, _ in _COLUMNS]
    yield ["合计", None, f"{len(rows)} 个站点", None, None, None, None,
           sum(r["subsidy_yuan"] for r in rows)]


def awards_xlsx(campaign, rows, *, title: str | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "获奖名单" if title is None else "推荐名单"
    sheet.append([defuse_cell(f"{campaign['name']}（{title or award_title(campaign)}）")])
    for line in _table(campaign, rows):
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def awards_csv(campaign, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in _table(campaign, rows):
        writer.writerow(["" if v is None else v for v in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel on Windows reads it as UTF-8
