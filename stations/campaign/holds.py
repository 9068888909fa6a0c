"""The organiser holds (暂缓) or excludes (排除) a nominee during 综合评议, with a reason.

A 面子工程 flag is a reason to look, not a verdict: the organiser decides.  A held or
excluded nominee keeps its scores on the ranking, marked with the reason, but takes no
place: the next moves up (:func:`apply_holds`, which the live ranking and so the list
frozen at 公示 go through).  A hold is released or turned into an exclusion before
公示 (``stages.advance_stage`` refuses while one is pending).  Each step is logged.
"""

from __future__ import annotations

from ..storage import now_iso, write_transaction
from .errors import CampaignError
from .store import clean_text, get_campaign, log_event, require_open

__all__ = ["HOLD_NAMES", "set_hold", "apply_holds", "pending_holds"]

HOLD_NAMES = {"held": "暂缓", "excluded": "排除"}
_ACTIONS = {"hold": "held", "exclude": "excluded", "release": None}


def set_hold(db, campaign_id, data, user) -> dict:
    """Hold, exclude or release one nominee (``data``: ``station_id``, ``action`` hold |
    exclude | release, ``reason``, required).  Only the organiser, only in 综合评议.
    Returns {"station_id", "name", "hold"}."""
    if user["role"] != "admin":
        raise CampaignError("只有组织者（管理员）可以暂缓或排除站点", None, 403)
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    if campaign["stage"] != "review":
        raise CampaignError(f"只能在综合评议阶段暂缓或排除站点（现为“{campaign['stage_name']}”）", "stage", 409)
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    action = data.get("action")
    if not isinstance(action, str) or action not in _ACTIONS:
        raise CampaignError("操作应为 hold（暂缓）、exclude（排除）或 release（恢复）", "action")
    try:
        station_id = int(data.get("station_id"))
    except (TypeError, ValueError):
        raise CampaignError("请选择站点", "station_id") from None
    reason = clean_text(data.get("reason"), "reason", "理由", 500, shortest=1)
    state = _ACTIONS[action]
    with write_transaction(db):
        row = db.execute("SELECT n.hold, s.name FROM nominations n JOIN stations s ON s.id = n.station_id "
                         "WHERE n.campaign_id = ? AND n.station_id = ? AND n.removed_at IS NULL",
                         [campaign["id"], station_id]).fetchone()
        if row is None:
            raise CampaignError(f"站点 {station_id} 不是本活动的参评站点", "station_id", 404)
        before, name = row
        if before == state:
            now = HOLD_NAMES.get(state, "参评")
            raise CampaignError(f"站点“{name}”已经是“{now}”状态", "action", 409)
        db.execute("UPDATE nominations SET hold = ?, hold_reason = ?, hold_by = ?, hold_at = ? "
                   "WHERE campaign_id = ? AND station_id = ?",
                   [state, reason if state else None, user["username"], now_iso(), campaign["id"], station_id])
        log_event(db, campaign["id"], "hold", username=user["username"], reason=reason,
                  detail={"station_id": station_id, "name": name, "action": action, "from": before, "to": state})
    return {"station_id": station_id, "name": name, "hold": state}


def pending_holds(db, campaign_id) -> int:
    """Nominees held (暂缓) and not yet released or excluded."""
    return db.execute("SELECT count(*) FROM nominations WHERE campaign_id = ? AND removed_at IS NULL "
                      "AND hold = 'held'", [int(campaign_id)]).fetchone()[0]


def apply_holds(db, campaign_id, result: dict) -> dict:
    """Mark held and excluded rows of a ranking (``hold``, ``hold_reason``) and take their
    places away: the others are numbered again in the same order."""
    holds = {sid: (state, reason) for sid, state, reason in db.execute(
        "SELECT station_id, hold, hold_reason FROM nominations WHERE campaign_id = ? AND removed_at IS NULL "
        "AND hold IS NOT NULL", [int(campaign_id)])}
    number = 0
    for row in result["ranking"]:
        state, reason = holds.get(row["station_id"], (None, None))
        row["hold"], row["hold_reason"] = state, reason
        if state or row["rank"] is None:
            row["rank"] = None
        else:
            number += 1
            row["rank"] = number
    return result
