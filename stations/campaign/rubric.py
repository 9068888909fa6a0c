"""The rubric as data: 七有 by default, copied into each campaign and editable before review.

Names of criteria and items are the 2021 notice's (北京市总工会《关于开展2021年
"最美工会户外劳动者服务站点"推树活动的通知》, 推树标准"七有").  Items marked
``priority`` are what the notice says to prefer (优先推荐): they break ties.
Criterion scores are 0–10; a station's total is the weighted mean scaled to 0–100.
"""

from __future__ import annotations

import copy
import math
import re

from ..text import forbidden_character, refusal
from .errors import CampaignError

__all__ = ["DEFAULT_RUBRIC", "APPEARANCE", "SUBSTANCE", "READINGS", "default_rubric", "validate_rubric",
           "weighted_total", "priority_items", "item_names", "priority_reading", "with_reading"]

SCORE_MAX = 10


def _c(key, name, items, weight=1.0):
    return {"key": key, "name": name, "weight": weight,
            "items": [{"key": k, "name": n, "priority": p} for k, n, p in items]}


DEFAULT_RUBRIC = {"name": "七有", "criteria": [
    _c("site", "有场地", [
        ("fixed_place", "有固定服务场所", False),
        ("street_front", "位置尽量临街设置", False),
        ("easy_access", "便于户外劳动者进出", False)]),
    _c("signage", "有标识", [
        ("union_sign", "在明显位置悬挂统一制作的职工之家或职工暖心驿站标识标牌", False),
        ("service_info", "明示服务对象、服务时间、服务内容等服务信息", False)]),
    _c("facilities", "有设施", [
        ("water", "饮水机", False), ("fridge", "冰箱", False), ("microwave", "微波炉", False),
        ("charging", "充电充气工具", False), ("rain_gear", "雨具", False),
        ("first_aid", "急救箱", False), ("epidemic", "应急防疫物资", False),
        ("toilet", "如厕区", False), ("rest_area", "休息区", False),
        ("service_24h", "通过自动售货机等手段具备24小时服务能力", True)]),
    _c("publicity", "有宣传", [
        ("media", "通过大屏、海报、折页等形式宣传", False),
        ("qr_codes", "推广“北京i会员”及“北京工会12351”二维码", False),
        ("content", "宣传党的路线方针政策、工会工作成果和加入工会的八大好处", False)]),
    _c("service", "有服务", [
        ("activities", "针对户外劳动者开展工会业务活动频次较高", False),
        ("brand", "有影响力大、广受职工群众欢迎的品牌服务项目", False),
        ("ledger", "有服务台账", True),
        ("feedback_records", "有服务对象反馈记录", True),
        ("opinion_channel", "有顺畅的职工意见建议收集反馈渠道", True)]),
    _c("rules", "有制度", [
        ("staff", "所属基层工会设专人负责站点日常运行工作", False),
        ("asset_rules", "有固定资产管理制度", False),
        ("safety_rules", "有安全管理制度", False),
        ("hygiene_rules", "有卫生管理制度", False),
        ("consumables_rules", "有消耗品管理制度", False),
        ("orderly", "运行规范有序", False)]),
    _c("effect", "有成效", [
        ("satisfaction", "户外劳动者满意度较高", False),
        ("identification", "对工会认同感较高", False),
        ("influence", "站点对外宣传报道工作较好，具有一定社会影响", False)]),
]}

# Appearance against substance, for the 面子工程 flag (by key: a renamed criterion keeps it).
APPEARANCE = ("site", "signage", "publicity")
SUBSTANCE = ("service", "effect")

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


# The notice's 有设施 sentence lists the equipment, then "有如厕区、休息区，通过自动售货机等
# 手段具备24小时服务能力的优先推荐": read narrowly, only 24-hour service is preferred; read
# broadly, a toilet and a rest area are too.  Both are offered; the default is the narrow one.
READING_ITEMS = {"narrow": ("service_24h",), "broad": ("toilet", "rest_area", "service_24h")}
READINGS = {
    "narrow": "只有“具备24小时服务能力”优先推荐（“优先推荐”只修饰紧挨着的一句）",
    "broad": "有如厕区、有休息区、具备24小时服务能力的，都优先推荐（“优先推荐”修饰这三项）",
}


def priority_reading(rubric: dict) -> str | None:
    """Which reading of the 有设施 sentence the rubric follows: "narrow", "broad", or
    None when its items do not match either (edited by hand, or renamed away)."""
    flags = {i["key"]: i["priority"] for c in rubric["criteria"] for i in c["items"]}
    for reading, keys in READING_ITEMS.items():
        chosen = [k for k in READING_ITEMS["broad"] if k in flags and flags[k]]
        if all(k in flags for k in keys) and sorted(chosen) == sorted(keys):
            return reading
    return None


def with_reading(rubric: dict, reading: str) -> dict:
    """A copy of the rubric whose toilet, rest-area and 24-hour items are marked 优先推荐
    as ``reading`` says (items it does not have are left alone)."""
    if reading not in READINGS:
        raise CampaignError("读法应为 narrow（只有24小时服务优先）或 broad（如厕区、休息区、24小时服务都优先）",
                            "priority_reading")
    out = copy.deepcopy(rubric)
    for c in out["criteria"]:
        for i in c["items"]:
            if i["key"] in READING_ITEMS["broad"]:
                i["priority"] = i["key"] in READING_ITEMS[reading]
    return out


def default_rubric() -> dict:
    """A fresh copy of 七有 (each campaign owns its copy)."""
    return copy.deepcopy(DEFAULT_RUBRIC)


def _text(value, field, label, longest):
    if not isinstance(value, str) or not value.strip():
        raise CampaignError(f"{label}不能为空", field)
    found = forbidden_character(value)  # tabs and line breaks fold into one space below
    if found:
        raise CampaignError(f"{label}{refusal(found)}", field)
    value = " ".join(value.split())
    if len(value) > longest:
        raise CampaignError(f"{label}最多 {longest} 字（现有 {len(value)} 字）", field)
    return value


def validate_rubric(data) -> dict:
    """Check a rubric (as sent by an organiser) and return it normalised.

    1–12 criteria, each with a unique key (``a-z0-9_``), a name, a weight greater than
    0 and at most 10, and 0–30 items with keys unique across the rubric.  Raises
    CampaignError naming the field, e.g. ``rubric.criteria[2].weight``.
    """
    if not isinstance(data, dict) or not isinstance(data.get("criteria"), list):
        raise CampaignError("评审标准应包含 criteria 列表", "rubric")
    criteria = data["criteria"]
    if not 1 <= len(criteria) <= 12:
        raise CampaignError(f"评审标准应有 1 到 12 项（现有 {len(criteria)} 项）", "rubric.criteria")
    out, keys = [], set()
    for i, raw in enumerate(criteria):
        where = f"rubric.criteria[{i}]"
        if not isinstance(raw, dict):
            raise CampaignError("每项标准应是一个对象", where)
        key = raw.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise CampaignError("标准代码应以小写字母开头，只含小写字母、数字和下划线", where + ".key")
        if key in keys:
            raise CampaignError(f"标准代码“{key}”重复", where + ".key")
        keys.add(key)
        name = _text(raw.get("name"), where + ".name", "标准名称", 20)
        if any(c["name"] == name for c in out):
            raise CampaignError(f"标准名称“{name}”重复", where + ".name")
        weight = raw.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or not 0 < weight <= 10:
            raise CampaignError("权重应是大于 0、不超过 10 的数", where + ".weight")
        items = raw.get("items", [])
        if not isinstance(items, list) or len(items) > 30:
            raise CampaignError("细项应是最多 30 项的列表", where + ".items")
        clean_items = []
        for j, item in enumerate(items):
            iwhere = f"{where}.items[{j}]"
            if not isinstance(item, dict):
                raise CampaignError("每个细项应是一个对象", iwhere)
            ikey = item.get("key")
            if not isinstance(ikey, str) or not _KEY.match(ikey):
                raise CampaignError("细项代码应以小写字母开头，只含小写字母、数字和下划线", iwhere + ".key")
            if ikey in keys:
                raise CampaignError(f"代码“{ikey}”重复", iwhere + ".key")
            keys.add(ikey)
            clean_items.append({"key": ikey, "name": _text(item.get("name"), iwhere + ".name", "细项名称", 60),
                                "priority": bool(item.get("priority", False))})
        out.append({"key": key, "name": name, "weight": float(weight), "items": clean_items})
    name = data.get("name") or "评审标准"
    return {"name": _text(name, "rubric.name", "标准名称", 20), "criteria": out}


def weighted_total(scores: dict, rubric: dict) -> float | None:
    """The weighted mean of criterion scores (0–10), scaled to 0–100.

    Criteria without a score are left out of both sums; None when none is scored.

    Examples
    --------
    >>> weighted_total({"a": 8, "b": 6}, {"criteria": [{"key": "a", "weight": 3}, {"key": "b", "weight": 1}]})
    75.0
    """
    num = den = 0.0
    for c in rubric["criteria"]:
        if scores.get(c["key"]) is not None:
            num += c["weight"] * float(scores[c["key"]])
            den += c["weight"]
    return None if den == 0 else num / den * (100 / SCORE_MAX)


def priority_items(rubric: dict) -> list[str]:
    return [i["key"] for c in rubric["criteria"] for i in c["items"] if i["priority"]]


def item_names(rubric: dict) -> dict:
    return {i["key"]: i["name"] for c in rubric["criteria"] for i in c["items"]}
