"""Records for the file: every individual review and the ranking (flags, tie-break,
holds and removals) as XLSX or CSV, for the organiser.

Cells a spreadsheet would run as a formula are defused (``registry.exporter._cell``).
Reviewers are named by their login (the accounts keep no real names yet).
"""

from __future__ import annotations

import csv
import io
import json

from ..registry.exporter import _cell as defuse_cell
from .errors import CampaignError
from .rubric import item_names, weighted_total
from .store import get_campaign

__all__ = ["RECORDS", "review_records", "ranking_records", "records_xlsx", "records_csv"]

RECORDS = {"reviews": "评审记录", "ranking": "排名"}
FLAG_NAMES = {"face_project": "面子工程", "low_agreement": "低一致"}


def _open_to_records(campaign):
    if campaign["stage"] == "nomination":
        raise CampaignError("评审开始后才有评审记录和排名", "stage", 409)


def review_records(db, campaign_id) -> tuple[dict, list[list]]:
    """(campaign, rows): a header, then one row per review submitted (drafts are not
    records), those set aside by a conflict of interest included and marked."""
    campaign = get_campaign(db, campaign_id)
    _open_to_records(campaign)
    criteria = campaign["rubric"]["criteria"]
    names = item_names(campaign["rubric"])
    rows = [["站点编号", "站点名称", "评审（登录名）", "评审所属工会", *[c["name"] for c in criteria], "加权总分",
             "确认的细项", "依据说明", "总体说明", "提交时间", "是否计入排名"]]
    for r in db.query(
            "SELECT r.station_id, s.name, u.username, u.union_name, r.scores, r.items, r.notes, r.note, "
            "r.submitted_at, r.set_aside FROM reviews r JOIN users u ON u.id = r.reviewer_id "
            "JOIN stations s ON s.id = r.station_id WHERE r.campaign_id = ? AND r.submitted_at IS NOT NULL "
            "ORDER BY r.station_id, u.username", [campaign["id"]]):
        scores, notes = json.loads(r["scores"]), json.loads(r["notes"])
        total = weighted_total(scores, campaign["rubric"])
        rows.append([r["station_id"], r["name"], r["username"], r["union_name"] or "",
                     *[scores.get(c["key"]) for c in criteria], None if total is None else round(total, 2),
                     "、".join(names.get(i, i) for i in json.loads(r["items"])),
                     "；".join(f"{c['name']}：{notes[c['key']]}" for c in criteria if notes.get(c["key"])),
                     r["note"] or "", r["submitted_at"][:16].replace("T", " "),
                     f"否（{r['set_aside']}）" if r["set_aside"] else "是"])
    return campaign, rows


def ranking_records(db, campaign_id, result: dict) -> tuple[dict, list[list]]:
    """(campaign, rows) of the ranking as the page shows it (``ranking_view``): place,
    scores, flags with their reasons, the tie-break, holds and removals."""
    from .ranking_view import ranking_view

    campaign = get_campaign(db, campaign_id)
    _open_to_records(campaign)
    criteria = campaign["rubric"]["criteria"]
    rows = [["名次", "站点编号", "站点名称", "所在区", "所属工会", "总分", *[c["name"] for c in criteria], "评审数",
             "离散度", "优先推荐项（过半确认）", "标记", "标记原因", "同分排序", "暂缓/排除/移出"]]
    for r in ranking_view(db, campaign, result):
        state = ("已移出：" + r["removed"]) if r.get("removed") else (
            {"held": "暂缓：", "excluded": "排除："}[r["hold"]] + (r.get("hold_reason") or "") if r.get("hold") else "")
        rows.append([r["place"], r["station_id"], r["name"], r.get("district") or "", r.get("host_union") or "",
                     r["total"], *[r["criteria"].get(c["key"]) for c in criteria], r["reviews"], r["spread"],
                     r["priority_confirmed"], "、".join(FLAG_NAMES.get(f, f) for f in r["flags"]),
                     "；".join(r.get("face_reasons") or []), r.get("tie") or "", state])
    return campaign, rows


def records_xlsx(campaign, kind: str, rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = RECORDS[kind]
    sheet.append([defuse_cell(f"{campaign['name']}：{RECORDS[kind]}")])
    for row in rows:
        sheet.append([defuse_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def records_csv(campaign, kind: str, rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["" if v is None else defuse_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel on Windows reads it as UTF-8
