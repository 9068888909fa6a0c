"""The 公示 notice as it is posted and filed: who issues it, when, for how long, each
listed station's union and address, where to object, and what changed since it went up
("经核查，…取消，由…递补").  Public data only: stations' names, unions and addresses
are on the directory already; no reviewer, no objector is named.
"""

from __future__ import annotations

from ..storage import get_station, write_transaction
from .errors import CampaignError
from .notice import notice_list
from .store import clean_text, get_campaign, log_event, require_open

__all__ = ["printed_notice", "set_notice_details"]


def set_notice_details(db, campaign_id, data, user) -> dict:
    """The issuing union and where to object (a phone or an address), for the printed
    notice; the organiser may set them until the list is confirmed.  Logged."""
    if user["role"] != "admin":
        raise CampaignError("只有组织者可以设置公示信息", None, 403)
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    if campaign["stage"] == "confirmed":
        raise CampaignError("名单已确认，公示信息不能再改", "stage", 409)
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    issuer = clean_text(data.get("issuer"), "issuer", "发布单位", 60, shortest=1, multiline=False)
    contact = clean_text(data.get("objection_contact"), "objection_contact", "异议受理电话或地址", 200, shortest=1)
    with write_transaction(db):
        db.execute("UPDATE campaigns SET issuer = ?, objection_contact = ? WHERE id = ?",
                   [issuer, contact, campaign["id"]])
        log_event(db, campaign["id"], "notice_details", username=user["username"],
                  reason=f"发布单位：{issuer}；异议受理：{contact}")
    return {"issuer": issuer, "objection_contact": contact}


def printed_notice(db, campaign_id) -> dict:
    """What the printed notice says: the public list (``notice_list``) with each station's
    union and address, the campaign's issuer and contact, and ``changes``: one sentence
    per station removed after the list went up, naming who moved up in its place."""
    listed = notice_list(db, campaign_id)
    campaign = get_campaign(db, campaign_id)
    for row in listed["stations"]:
        station = get_station(db, row["station_id"])
        row["host_union"], row["address"] = station.get("host_union"), station.get("address")
    changes = []
    if campaign["ranking"]:
        removed = {sid for (sid,) in db.execute("SELECT station_id FROM nominations WHERE campaign_id = ? "
                                                "AND removed_at IS NOT NULL", [campaign["id"]])}
        first = [r for r in campaign["ranking"]["ranking"] if r["rank"] is not None and not r.get("hold")
                 and (campaign["pass_mark"] is None or r["total"] >= campaign["pass_mark"])][:campaign["quota"]]
        gone = [r["name"] for r in first if r["station_id"] in removed]
        came = [r["name"] for r in listed["stations"] if r["station_id"] not in {f["station_id"] for f in first}]
        if gone:
            moved = f"由{'、'.join(f'“{n}”' for n in came)}递补" if came else "名额空缺，不再递补"
            changes.append(f"经核查，{'、'.join(f'“{n}”' for n in gone)}取消推树资格，{moved}。")
    return {**listed, "issuer": campaign["issuer"], "objection_contact": campaign["objection_contact"],
            "changes": changes, "level_name": campaign["level_name"]}
