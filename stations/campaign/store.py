"""Campaign tables behind named functions (the schema is migration m008 in storage.py)."""

from __future__ import annotations

import json
from datetime import date, datetime
import re
import unicodedata

import orjson

from ..storage import TZ, now_iso
from ..text import forbidden_character, refusal
from .errors import CampaignError, NotFound

__all__ = ["today", "typed_number", "require_open", "awarder", "get_campaign", "list_campaigns", "log_event", "campaign_log", "clean_text",
           "parse_int", "active_nominations", "reviewers", "user_by_name_or_id"]

STAGES = ("nomination", "review", "notice", "confirmed")
STAGE_NAMES = {"nomination": "基层推荐", "review": "综合评议", "notice": "公示", "confirmed": "确认"}
LEVELS = {"national": "全国", "municipal": "市级", "district": "区级"}


def today() -> date:
    """Today in Beijing: the campaign's dates (公示 start and end) are Beijing dates."""
    return datetime.now(TZ).date()


def clean_text(value, field: str, label: str, longest: int, *, shortest: int = 0,
               multiline: bool = True) -> str:
    """Text a person typed, NFC-normalised and trimmed; CampaignError naming ``field``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CampaignError(f"{label}应是文字", field)
    value = unicodedata.normalize("NFC", value).strip()
    found = forbidden_character(value, multiline=multiline)
    if found:
        raise CampaignError(f"{label}{refusal(found)}", field)
    if len(value) < shortest:
        raise CampaignError(f"请填写{label}" if shortest <= 1 else f"{label}至少 {shortest} 字", field)
    if len(value) > longest:
        raise CampaignError(f"{label}最多 {longest} 字（现有 {len(value)} 字）", field)
    return value


def typed_number(text: str) -> float:
    """A number as people type it: full-width digits, and a decimal comma ("1,5", "７，５")
    read as a point.  ValueError when it is not one number."""
    text = unicodedata.normalize("NFKC", str(text)).strip()
    if re.fullmatch(r"[+-]?\d+[,，]\d+", text):
        text = re.sub("[,，]", ".", text)
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        raise ValueError(f"not a number: {text[:20]!r}")
    return float(text)


def parse_int(value, field: str, label: str, lowest: int, highest: int) -> int:
    """A whole number from JSON or a form, within bounds; CampaignError naming ``field``."""
    if isinstance(value, bool) or value is None or value == "":
        raise CampaignError(f"请填写{label}（{lowest}–{highest} 的整数）", field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise CampaignError(f"{label}应是整数，收到“{value[:20]}”", field)
        value = int(text)
    if not isinstance(value, int):
        raise CampaignError(f"{label}应是整数", field)
    if not lowest <= value <= highest:
        raise CampaignError(f"{label}应在 {lowest} 到 {highest} 之间，收到 {value}", field)
    return value


def _decode(row: dict) -> dict:
    row = dict(row)
    row["rubric"] = json.loads(row["rubric"])
    row["ranking"] = orjson.loads(row["ranking"]) if row.get("ranking") else None  # 5,000 rows: orjson
    row["normalise"] = bool(row["normalise"])
    row["stage_name"] = STAGE_NAMES[row["stage"]]
    row["level_name"] = LEVELS[row["level"]]
    row["archived"] = bool(row.get("archived_at"))
    return row


def _place(name: str, kind: str | None) -> str:
    """The awarding union as a title names it: 北京市总工会 → 北京市, 中华全国总工会 → 全国."""
    if kind == "national" or name in ("中华全国总工会", "全国总工会"):
        return "全国"
    return name.removesuffix("总工会") if name.endswith("总工会") and len(name) > 3 else name


def awarder(db, campaign) -> str:
    """Who awards the campaign's title, as the title says it ('' when nothing tells)."""
    if campaign.get("union_id") is not None:
        row = db.execute("SELECT name, kind FROM unions WHERE id = ?", [campaign["union_id"]]).fetchone()
        if row:
            return _place(row[0], row[1])
    if campaign["level"] == "national":
        return "全国"
    if campaign["level"] == "municipal":
        rows = db.execute("SELECT name, kind FROM unions WHERE parent_id IS NULL AND kind = 'municipal' "
                          "AND status = 'active' ORDER BY id").fetchall()
        if len(rows) == 1:
            return _place(rows[0][0], rows[0][1])
    return ""


def require_open(campaign) -> None:
    """Refuse any change to a cancelled (archived) campaign: 409."""
    if campaign.get("archived_at"):
        raise CampaignError(f"活动“{campaign['name']}”已于 {campaign['archived_at'][:10]} 撤销，不能再做任何更改",
                            "campaign", 409)


def get_campaign(db, campaign_id) -> dict:
    try:
        campaign_id = int(campaign_id)
    except (TypeError, ValueError):
        raise NotFound(f"no campaign {campaign_id!r}") from None
    rows = list(db.query("SELECT * FROM campaigns WHERE id = ?", [campaign_id])) \
        if 0 < campaign_id < 2**63 else []
    if not rows:
        raise NotFound(f"no campaign {campaign_id}")
    campaign = _decode(rows[0])
    campaign["awarder"] = awarder(db, campaign)  # who awards its title (北京市, 朝阳区, 全国)
    campaign["organiser"] = None
    if campaign.get("union_id") is not None:
        row = db.execute("SELECT name FROM unions WHERE id = ?", [campaign["union_id"]]).fetchone()
        campaign["organiser"] = row[0] if row else None
    return campaign


def list_campaigns(db, stages=None, *, archived: bool = False) -> list[dict]:
    """Campaigns, newest first; cancelled (archived) ones only when ``archived``."""
    rows = db.query("SELECT id, name, year, level, stage, quota, notice_start, notice_end, archived_at, union_id "
                    "FROM campaigns ORDER BY year DESC, id DESC")
    out = []
    for r in rows:
        if stages and r["stage"] not in stages:
            continue
        if r["archived_at"] and not archived:
            continue
        out.append({**r, "stage_name": STAGE_NAMES[r["stage"]], "level_name": LEVELS[r["level"]],
                    "archived": bool(r["archived_at"])})
    return out


def log_event(db, campaign_id, kind: str, *, username=None, from_stage=None, to_stage=None,
              reason=None, detail=None) -> None:
    """Write one line of the campaign's log (call inside the caller's transaction)."""
    db.execute("INSERT INTO campaign_events (campaign_id, at, username, kind, from_stage, to_stage, "
               "reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [int(campaign_id), now_iso(), username, kind, from_stage, to_stage, reason,
                json.dumps(detail, ensure_ascii=False) if detail is not None else None])


def campaign_log(db, campaign_id) -> list[dict]:
    """The campaign's log, oldest first."""
    rows = db.query("SELECT * FROM campaign_events WHERE campaign_id = ? ORDER BY id", [int(campaign_id)])
    return [{**r, "detail": json.loads(r["detail"]) if r["detail"] else {}} for r in rows]


def active_nominations(db, campaign_id) -> list[dict]:
    """Nominees still in the running, with the station's name, district and host union."""
    return list(db.query(
        "SELECT n.id, n.station_id, n.union_id, n.union_name, n.nominated_by, n.reason, n.created_at, "
        "n.forwarded_at, n.forwarded_by, s.name, s.district, s.host_union, s.host_union_id FROM nominations n JOIN stations s ON s.id = n.station_id "
        "WHERE n.campaign_id = ? AND n.removed_at IS NULL ORDER BY n.id", [int(campaign_id)]))


def reviewers(db) -> list[dict]:
    """Every account with the reviewer role."""
    return list(db.query("SELECT id, username, union_id, union_name FROM users WHERE role = 'reviewer' ORDER BY id"))


def user_by_name_or_id(db, value) -> dict | None:
    if isinstance(value, int) and not isinstance(value, bool):
        rows = list(db.query("SELECT id, username, role, union_id, union_name FROM users WHERE id = ?", [value]))
    else:
        rows = list(db.query("SELECT id, username, role, union_id, union_name FROM users WHERE username = ?",
                             [str(value or "").strip()]))
    return rows[0] if rows else None
