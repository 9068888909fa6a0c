"""The ranking as the organiser reads it: the places the public list gives, removals,
the quota line, and why tied stations stand in their order.

``rank_campaign`` (ranking.py) computes; this only reads its rows against the campaign
as it stands: a station removed by an upheld objection after the list was frozen keeps
its row, marked, and loses its place, so the places on the ranking page are the ones on
the public list and the award list.
"""

from __future__ import annotations

__all__ = ["ranking_view", "tie_notes"]


def _removed(db, campaign_id) -> dict:
    return {sid: reason for sid, reason in db.execute(
        "SELECT station_id, removed_reason FROM nominations WHERE campaign_id = ? AND removed_at IS NOT NULL",
        [int(campaign_id)])}


def ranking_view(db, campaign, result: dict) -> list[dict]:
    """The ranking's rows (copies) with ``place`` (the public list's: removed, held and
    excluded stations take none), ``removed`` (the reason, or None), ``in_quota``, and
    ``tie`` (see :func:`tie_notes`)."""
    removed = _removed(db, campaign["id"])
    rows, place = [], 0
    for row in result["ranking"]:
        row = dict(row)
        row["removed"] = removed.get(row["station_id"])
        if row["rank"] is not None and row["removed"] is None and not row.get("hold"):
            place += 1
            row["place"] = place
        else:
            row["place"] = None
        mark = campaign.get("pass_mark")
        row["below_pass"] = mark is not None and row["total"] is not None and row["total"] < mark
        row["in_quota"] = row["place"] is not None and row["place"] <= campaign["quota"] and not row["below_pass"]
        rows.append(row)
    for row, note in zip(rows, tie_notes(rows)):
        row["tie"] = note
    return rows


def _broken_by(a: dict, b: dict) -> str:
    """Why ``a`` stands before ``b`` at the same total (the rule: ranking.RULES['ties'])."""
    if a["priority_confirmed"] != b["priority_confirmed"]:
        return f"过半评审确认的优先推荐项 {a['priority_confirmed']} 项对 {b['priority_confirmed']} 项"
    if (a.get("rating") or 0) != (b.get("rating") or 0):
        def shown(r):
            return f"{r:.2f}" if r else "无"
        return f"骑手评分 {shown(a.get('rating'))} 对 {shown(b.get('rating'))}"
    return f"优先推荐项（{a['priority_confirmed']} 项）和骑手评分都相同，按站点编号 #{a['station_id']} 在 #{b['station_id']} 前"


def tie_notes(rows: list[dict]) -> list[str | None]:
    """For each row tied on total (two decimals) with a neighbour: which rule put it there."""
    notes = [None] * len(rows)
    for i in range(len(rows) - 1):
        a, b = rows[i], rows[i + 1]
        if a["total"] is None or a["total"] != b["total"]:
            continue
        why = _broken_by(a, b)
        after = f"与“{b['name']}”同分（{a['total']:.2f}），排在前：{why}"
        before = f"与“{a['name']}”同分（{a['total']:.2f}），排在后：{why}"
        notes[i] = f"{notes[i]}；{after}" if notes[i] else after
        notes[i + 1] = before
    return notes
