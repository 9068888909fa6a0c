"""七有 on the station record: each station's latest checklist, from a confirmed campaign's
reviews or from an inspection (日常检查, or 验收 of a new station) outside any campaign."""

from __future__ import annotations

import json
from collections import defaultdict

from ..storage import (StationNotFound, awarded_station_ids, checklists_version, get_station, now_iso,
                       stations_with_min_total, write_transaction)
from .errors import CampaignError
from .rubric import default_rubric, weighted_total

__all__ = ["INSPECTION_KINDS", "inspect_station", "checklists_from_campaign", "latest_checklist",
           "latest_checklists", "qiyou_property", "stations_with_min_total", "awarded_station_ids",
           "checklists_version"]

INSPECTION_KINDS = {"routine": "日常检查", "acceptance": "验收"}


def _record(db, station_id, *, source, criteria, rubric, username, campaign_id=None, kind=None,
            total=None) -> dict:
    scores = {k: v["score"] for k, v in criteria.items() if v["score"] is not None}
    total = round(weighted_total(scores, rubric) or 0.0, 2) if total is None else round(float(total), 2)
    row = {"station_id": int(station_id), "at": now_iso(), "source": source, "campaign_id": campaign_id,
           "kind": kind, "username": username, "total": total,
           "criteria": json.dumps(criteria, ensure_ascii=False), "rubric": json.dumps(rubric, ensure_ascii=False)}
    row_id = db["checklists"].insert(row).last_pk
    entry = {"date": row["at"][:10], "source": source, "total": total, "criteria": criteria,
             "campaign_id": campaign_id, "kind": kind}
    # The station's history records each new checklist (nothing in the station row changes).
    db["station_history"].insert({"station_id": int(station_id), "at": row["at"], "username": username,
                                  "action": f"qiyou:{source}", "before": None,
                                  "after": json.dumps({"qiyou": entry}, ensure_ascii=False)})
    return {**entry, "id": row_id}


def inspect_station(db, station_id, data, user, *, rubric=None) -> dict:
    """Record an inspection of one station with the 七有 form (no stages): every criterion
    scored 0–10, items ticked, a kind (routine or acceptance).  Organisers and reviewers."""
    from .reviews import parse_review

    if user["role"] not in ("admin", "reviewer"):
        raise CampaignError("只有组织者或评审专家可以检查站点", None, 403)
    try:
        station = get_station(db, station_id)
    except StationNotFound:
        raise CampaignError(f"没有编号为 {station_id} 的站点", "station_id") from None
    kind = (data or {}).get("kind") or "routine"
    if not isinstance(kind, str) or kind not in INSPECTION_KINDS:
        raise CampaignError("检查类型应为 routine（日常检查）或 acceptance（验收）", "kind")
    rubric = rubric or default_rubric()
    clean = parse_review(data, rubric, submit=True)
    criteria = {c["key"]: {"score": clean["scores"][c["key"]],
                           "items_met": [i["key"] for i in c["items"] if i["key"] in clean["items"]]}
                for c in rubric["criteria"]}
    with write_transaction(db):
        return _record(db, station["id"], source="inspection", criteria=criteria, rubric=rubric,
                       username=user["username"], kind=kind)


def checklists_from_campaign(db, campaign, *, username) -> int:
    """A checklist for every nominee with submitted reviews: each criterion's mean score,
    items ticked by more than half of its reviewers, and as its total the campaign's own
    total for the station (the ranking frozen at 公示: trimmed, normalised if the campaign
    is), so the station page and the award list give one figure.  Call inside a transaction."""
    from .reviews import submitted_reviews

    frozen = {r["station_id"]: r["total"] for r in (campaign.get("ranking") or {}).get("ranking", [])
              if r.get("total") is not None}

    by_station = defaultdict(list)
    for review in submitted_reviews(db, campaign["id"]):
        by_station[review["station_id"]].append(review)
    rubric = campaign["rubric"]
    for station_id, reviews in sorted(by_station.items()):
        criteria = {}
        for c in rubric["criteria"]:
            values = [float(r["scores"][c["key"]]) for r in reviews if r["scores"].get(c["key"]) is not None]
            met = [i["key"] for i in c["items"]
                   if sum(i["key"] in r["items"] for r in reviews) * 2 > len(reviews)]
            criteria[c["key"]] = {"score": round(sum(values) / len(values), 2) if values else None,
                                  "items_met": met}
        _record(db, station_id, source="campaign", criteria=criteria, rubric=rubric, username=username,
                campaign_id=campaign["id"], total=frozen.get(station_id))
    return len(by_station)


def _decode(row) -> dict:
    return {"date": row["at"][:10], "at": row["at"], "source": row["source"], "total": row["total"],
            "criteria": json.loads(row["criteria"]), "rubric": json.loads(row["rubric"]),
            "campaign_id": row["campaign_id"], "kind": row["kind"], "username": row["username"]}


def latest_checklist(db, station_id) -> dict | None:
    rows = list(db.query("SELECT * FROM checklists WHERE station_id = ? ORDER BY id DESC LIMIT 1",
                         [int(station_id)]))
    return _decode(rows[0]) if rows else None


def latest_checklists(db, station_ids) -> dict:
    """{station id: latest checklist} for many stations (those without one are left out)."""
    ids = [int(i) for i in station_ids]
    out = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = db.query("SELECT * FROM checklists WHERE id IN (SELECT max(id) FROM checklists WHERE station_id IN "
                        f"({', '.join('?' for _ in chunk)}) GROUP BY station_id)", chunk)
        out.update((r["station_id"], _decode(r)) for r in rows)
    return out


def qiyou_property(checklist: dict | None) -> dict | None:
    """The API's ``qiyou``: {"date", "source", "total", "criteria": {key: {"score", "items_met"}}}."""
    if checklist is None:
        return None
    return {"date": checklist["date"], "source": checklist["source"], "total": checklist["total"],
            "criteria": checklist["criteria"]}
