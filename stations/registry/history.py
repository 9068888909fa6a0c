"""A station's history as an organiser reads it: Chinese labels, Beijing time, values
in words (the stored codes and machine forms are for machines)."""

from __future__ import annotations

from datetime import datetime

from ..riders.feedback import RESOLUTIONS
from ..hours import HoursError, parse_hours
from .records import FACILITIES, STATION_TYPES, STATUSES
from ..storage import TZ

__all__ = ["FIELD_LABELS", "beijing_time", "describe_history", "hours_as_typed", "hours_for_people"]

FIELD_LABELS = {
    "name": "名称", "address": "地址", "district": "所在区", "district_declared": "登记的区",
    "district_mismatch": "区与坐标不一致", "subdistrict": "街道/乡镇", "lon": "经度", "lat": "纬度",
    "host_union": "所属工会", "manager": "负责人", "manager_phone": "负责人电话",
    "station_type": "类型", "hours": "开放时间", "facilities": "设施", "status": "状态",
    "awards": "荣誉", "synthetic": "合成数据", "created_at": "创建时间", "updated_at": "更新时间",
    "hours_text": "开放时间（原文）", "note": "备注",
}
_HIDDEN = {"id", "updated_at", "created_at", "hours_text"}  # hours_text shows as 开放时间
_ACTIONS = {"create": "新建", "import": "导入", "edit": "编辑", "close": "关闭站点",
            "reopen": "重新开放", "status": "更改状态"}


def beijing_time(value) -> str:
    """An ISO timestamp as Beijing wall-clock time to the minute: ``2026-11-26 03:10``."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(TZ)
    return moment.strftime("%Y-%m-%d %H:%M")


def hours_for_people(text) -> str:
    """Stored hours in the Chinese an organiser writes (the stored form is OSM-like)."""
    if not text:
        return ""
    try:
        return parse_hours(text).to_zh()
    except HoursError:
        return str(text)


def hours_as_typed(station: dict) -> str:
    """A station's hours as the organiser wrote them: the typed words when kept, else the
    stored form in Chinese."""
    return (station or {}).get("hours_text") or hours_for_people((station or {}).get("hours"))


def _value(field: str, value) -> str:
    if value is None or value == "" or value == []:
        return "（空）"
    if field == "facilities":
        return "、".join(FACILITIES.get(c, c) for c in value)
    if field == "status":
        return STATUSES.get(value, value)
    if field == "station_type":
        return STATION_TYPES.get(value, value)
    if field == "hours":
        return hours_for_people(value)
    if field == "awards":
        return "、".join(a.get("title", "") if isinstance(a, dict) else str(a) for a in value)
    if isinstance(value, bool) or field in ("synthetic", "district_mismatch"):
        return "是" if value else "否"
    if field in ("created_at", "updated_at"):
        return beijing_time(value)
    return str(value)


def _action(action: str, times: dict) -> str:
    kind, _, rest = (action or "").partition(":")
    if kind == "restore":
        when = times.get(int(rest)) if rest.isdigit() else None
        return f"恢复到 {when} 的版本" if when else "恢复到以前的版本"
    if kind == "resolve":
        code, _, count = rest.partition(":")
        return f"处理骑手报告 {count} 条：{RESOLUTIONS.get(code, code)}"
    return _ACTIONS.get(kind, action)


def describe_history(history: list[dict]) -> list[dict]:
    """History entries (newest first, as ``storage.station_history`` gives them) with
    ``when`` (Beijing time), ``what`` (the action in Chinese) and ``changes``: a list of
    (field label, before, after) in words, or ``created`` for a first version."""
    times = {h["id"]: beijing_time(h["at"]) for h in history}
    out = []
    for h in history:
        entry = dict(h, when=times[h["id"]], what=_action(h["action"], times), changes=[],
                     created=False, restorable=bool(h.get("after")))
        before, after = h.get("before"), h.get("after")
        if before and after:
            entry["changes"] = [
                (FIELD_LABELS.get(k, k), *((hours_as_typed(before) or "（空）",
                                             hours_as_typed(after) or "（空）") if k == "hours"
                                            else (_value(k, before.get(k)), _value(k, v))))
                for k, v in after.items()
                if k not in _HIDDEN and (before.get(k) != v or k == "hours" and
                                         before.get("hours_text") != after.get("hours_text"))]
        elif after:
            entry["created"] = True
        out.append(entry)
    return out
