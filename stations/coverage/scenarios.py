"""Scenarios: a planner's settings of /plan described in words, saved under a name, compared.

A scenario is the page's query (its settings as (name, value) pairs): saving one keeps
those pairs, so opening, printing or comparing it computes afresh on today's stations.
``describe`` says in one line what a scenario asks (for a printed map and a comparison);
``compare_rows`` sets two answers' district figures side by side.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from ..storage import TZ, write_transaction
from .grid import CoverageError
from .planner import parse_params, parse_whatif

__all__ = ["describe", "save_scenario", "list_scenarios", "get_scenario", "delete_scenario", "compare_rows",
           "ScenarioExists", "MAX_SCENARIOS"]

MAX_SCENARIOS = 200  # per planner
_KEPT = {"minutes", "mode", "speed_kmh", "detour", "cell_m", "at", "only_24h", "district", "demand", "resolution",
         "kind", "p", "spacing_m", "double", "near", "close", "add", "add_datum", "tiles", "datum", "candidates"}
MODE_NAMES = {"walk": "步行", "ebike": "电动自行车"}


class ScenarioExists(Exception):
    """A planner already has a scenario of that name."""


def describe(args) -> str:
    """One line for people: the districts, the circle, the demand and the what-if.

    Examples
    --------
    >>> describe({"district": "东城区", "minutes": "15"})
    '东城区 · 步行 15 分钟（5 公里/小时，绕行系数 1.3，服务圈半径 962 米） · 需求：按面积均匀 · 格子 100 米'
    """
    params = parse_params(args)
    close, add = parse_whatif(args)
    circle = params.circle.as_dict()
    parts = ["、".join(params.districts) or "全部区",
             f"{MODE_NAMES.get(circle['mode'], circle['mode'])} {circle['minutes']:g} 分钟（{circle['speed_kmh']:g} 公里/小时，"
             f"绕行系数 {circle['detour']:g}，服务圈半径 {circle['radius_m']:.0f} 米）",
             f"需求：{params.demand or '按面积均匀'}", f"格子 {params.cell_m:g} 米"]
    if params.at:
        parts.append(f"只算 {params.at.strftime('%Y-%m-%d %H:%M')} 开放的站点")
    if params.only_24h:
        parts.append("只算 24 小时站点")
    if close or add:
        what = ([f"关闭站点 {'、'.join(str(i) for i in close[:20])}{' 等' if len(close) > 20 else ''}"] if close else []) \
            + ([f"新增 {len(add)} 个站点"] if add else [])
        parts.append("假设：" + "；".join(what))
    return " · ".join(parts)


def _pairs(pairs) -> list[list[str]]:
    return [[str(k), str(v)] for k, v in pairs if k in _KEPT and str(v) != ""][:200]


def save_scenario(db, owner: str, name: str, pairs) -> int:
    """Keep the settings ``pairs`` under ``name`` for ``owner``; returns its id.

    CoverageError('scenario_name') for an empty or long name, or a bad setting (it is
    checked as the page would); ScenarioExists when the owner has one of that name."""
    name = " ".join(str(name or "").split())
    if not name:
        raise CoverageError("scenario_name", "请给方案起个名字（例如“海淀步行15分钟”）")
    if len(name) > 60:
        raise CoverageError("scenario_name", f"方案名称太长（{len(name)} 个字，最多 60 个）")
    kept = _pairs(pairs)
    from .jobs import _Args

    describe(_Args(kept))  # a bad setting is refused now, not when the scenario is opened
    try:
        with write_transaction(db):
            count = db.execute("SELECT count(*) FROM plan_scenarios WHERE owner = ?", [owner]).fetchone()[0]
            if count >= MAX_SCENARIOS:
                raise CoverageError("scenario_name", f"每人最多保存 {MAX_SCENARIOS} 个方案：请先删除不用的")
            cursor = db.execute("INSERT INTO plan_scenarios (owner, name, query, created_at) VALUES (?, ?, ?, ?)",
                                [owner, name, json.dumps(kept, ensure_ascii=False),
                                 datetime.now(TZ).isoformat(timespec="seconds")])
    except sqlite3.IntegrityError:  # UNIQUE (owner, name): a second save, or a race, answers 409
        raise ScenarioExists(name) from None
    return int(cursor.lastrowid)


def _row(row) -> dict:
    return {"id": row[0], "owner": row[1], "name": row[2], "pairs": [tuple(p) for p in json.loads(row[3])],
            "created_at": row[4]}


def list_scenarios(db, owner: str) -> list[dict]:
    """The owner's scenarios, newest first."""
    return [_row(r) for r in db.execute("SELECT id, owner, name, query, created_at FROM plan_scenarios "
                                        "WHERE owner = ? ORDER BY id DESC", [owner]).fetchall()]


def get_scenario(db, scenario_id, owner: str) -> dict | None:
    """One of the owner's scenarios, or None (another planner's scenarios are not theirs)."""
    try:
        scenario_id = int(scenario_id)
    except (TypeError, ValueError):
        return None
    row = db.execute("SELECT id, owner, name, query, created_at FROM plan_scenarios WHERE id = ? AND owner = ?",
                     [scenario_id, owner]).fetchone()
    return _row(row) if row else None


def delete_scenario(db, scenario_id: int, owner: str) -> bool:
    with write_transaction(db):
        cursor = db.execute("DELETE FROM plan_scenarios WHERE id = ? AND owner = ?", [int(scenario_id), owner])
    return cursor.rowcount > 0


def compare_rows(a: dict, b: dict) -> list[dict]:
    """District by district (and 全部), the figures of answers ``a`` and ``b`` and their
    difference (b − a); a district in one only has None on the other side."""
    def rows(answer):
        return {r["district"]: r for r in answer["districts"] + [{**answer["overall"], "district": "全部"}]}

    ra, rb = rows(a), rows(b)
    names = [d for d in ra if d != "全部"] + [d for d in rb if d not in ra and d != "全部"] + ["全部"]
    out = []
    for name in names:
        row = {"district": name}
        for key in ("stations", "covered_share", "double_covered_share", "demand_covered_share"):
            va, vb = (ra.get(name) or {}).get(key), (rb.get(name) or {}).get(key)
            row[key] = (va, vb, None if va is None or vb is None else round(vb - va, 4))
        out.append(row)
    return out
