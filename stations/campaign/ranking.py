"""Scores into a ranking: aggregation, per-reviewer normalisation, agreement, ties, flags.

Pure functions over plain data; ``rank_campaign`` puts them together.  The rules
written here are the ones the ranking page states (``RULES``).
"""

from __future__ import annotations

import math
from collections import defaultdict

from .rubric import APPEARANCE, SUBSTANCE

__all__ = ["RULES", "aggregate", "spread", "normalise_by_reviewer", "kendall_w", "face_project",
           "poor_evidence", "rank_campaign", "TRIM_FROM"]

TRIM_FROM = 5            # with this many reviews or more, drop the highest and the lowest
LOW_AGREEMENT_SD = 15.0  # review totals' standard deviation (0–100 scale) above this: low agreement
FACE_GAP = 3.0           # appearance mean minus substance mean (0–10) at least this: 面子工程
FACE_HIGH_TOTAL = 80.0   # … or a total at least this with poor evidence of use
MIN_WEEKLY_HOURS = 40.0  # evidence is poor: open fewer hours a week than this (not 24-hour),
LOW_RATING = 3.0         # or riders rate it below this (with at least MIN_RATINGS ratings),
MIN_RATINGS = 3
MAX_REPORTS = 2          # or this many "closed"/"not found" reports in the past year

RULES = {
    "aggregate": f"总分为各评审加权总分的平均；评审数达到 {TRIM_FROM} 份时去掉一个最高分和一个最低分后平均。",
    "normalise": "标准化（可选）：每位评审的总分先换算为该评审自己的 z 分数（减去其平均、除以其标准差），"
                 "再乘以全体评审总分的标准差、加上全体平均，以抵消评审偏严或偏松。只有一份评分的评审不调整；"
                 "评分全部相同的评审只做平移。",
    "ties": "总分（保留两位小数）相同时，依次比较：过半评审确认的优先推荐项数（多者在前）、骑手评分（高者在前）、"
            "站点编号（小者在前）。",
    "face": f"面子工程：外观（有场地、有标识、有宣传）平均分比实质（有服务、有成效）平均分高出 {FACE_GAP:g} 分"
            f"（满分 10）或以上；或总分不低于 {FACE_HIGH_TOTAL:g} 但使用证据差——每周开放不足 "
            f"{MIN_WEEKLY_HOURS:g} 小时且非24小时、骑手评分低于 {LOW_RATING:g}（至少 {MIN_RATINGS} 人评价）、"
            f"或近一年有 {MAX_REPORTS} 次以上“关门/找不到”报告。",
    "agreement": f"低一致：评审总分的标准差超过 {LOW_AGREEMENT_SD:g} 分。评审一致性 Kendall W：每位评审在自己"
                 "评审的站点内排名，W = Σ(各站名次离差之和)² ÷ Σ(评审人数 × 名次离差平方和)，"
                 "只计至少两份评分的站点；每位评审都评了全部站点时即经典 Kendall W（含同分校正）。"
                 "1 为完全一致，接近 0 为几乎随机。",
}


def aggregate(totals: list[float]) -> float | None:
    """Mean of the totals, or with TRIM_FROM or more the mean without one highest and one lowest.

    Examples
    --------
    >>> aggregate([60, 70, 80])
    70.0
    >>> aggregate([10, 70, 72, 74, 100])
    72.0
    """
    if not totals:
        return None
    values = sorted(totals)
    if len(values) >= TRIM_FROM:
        values = values[1:-1]
    return sum(values) / len(values)


def spread(totals: list[float]) -> float:
    """Population standard deviation of the totals (0 for fewer than two)."""
    if len(totals) < 2:
        return 0.0
    mean = sum(totals) / len(totals)
    return math.sqrt(sum((t - mean) ** 2 for t in totals) / len(totals))


def normalise_by_reviewer(reviews: list[dict]) -> dict:
    """{review id: total adjusted for its reviewer's severity} (see RULES["normalise"]).

    ``reviews``: dicts with ``id``, ``reviewer_id`` and ``total``.
    """
    if not reviews:
        return {}
    everyone = [r["total"] for r in reviews]
    grand_mean = sum(everyone) / len(everyone)
    grand_sd = spread(everyone)
    by_reviewer = defaultdict(list)
    for r in reviews:
        by_reviewer[r["reviewer_id"]].append(r)
    out = {}
    for own in by_reviewer.values():
        totals = [r["total"] for r in own]
        mean, sd = sum(totals) / len(totals), spread(totals)
        for r in own:
            if len(own) < 2:
                out[r["id"]] = r["total"]
            elif sd == 0:
                out[r["id"]] = r["total"] - mean + grand_mean
            else:
                out[r["id"]] = grand_mean + (r["total"] - mean) / sd * grand_sd
    return out


def _average_ranks(values: list[float]) -> list[float]:
    """Ranks 1..n (highest value first), ties sharing the mean of their places."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def kendall_w(scores: dict) -> float | None:
    """Reviewer agreement: ``scores`` is {reviewer: {station: total}} (see RULES["agreement"]).

    With every reviewer scoring every station this is Kendall's W with the tie
    correction, 12 S / (m²(n³ − n) − m ΣT); with each reviewer scoring a subset it is
    S / Σ_j r_j Σ_i d_ij², which by Cauchy–Schwarz stays within 0..1.
    None when no station has two reviews (nothing to agree on).

    Examples
    --------
    >>> round(kendall_w({"a": {1: 4, 2: 3, 3: 2, 4: 1}, "b": {1: 4, 2: 2, 3: 3, 4: 1},
    ...                  "c": {1: 3, 2: 4, 3: 2, 4: 1}}), 4)
    0.7778
    """
    deviations = defaultdict(list)  # station -> deviations of its rank from its reviewer's mid-rank
    for own in scores.values():
        if len(own) < 2:
            continue
        stations = list(own)
        ranks = _average_ranks([own[s] for s in stations])
        middle = (len(stations) + 1) / 2
        for s, rank in zip(stations, ranks):
            deviations[s].append(rank - middle)
    num = den = 0.0
    for devs in deviations.values():
        if len(devs) < 2:
            continue
        num += sum(devs) ** 2
        den += len(devs) * sum(d * d for d in devs)
    if den == 0:
        return None if num == 0 and not any(len(d) >= 2 for d in deviations.values()) else 0.0
    return num / den


def poor_evidence(evidence: dict) -> list[str]:
    """Why a station's evidence of use is poor (Chinese reasons; empty when it is not)."""
    reasons = []
    hours = evidence.get("hours_per_week")
    if not evidence.get("is_24h") and hours is not None and hours < MIN_WEEKLY_HOURS:
        reasons.append(f"每周开放 {hours:g} 小时")
    rating, count = evidence.get("rating"), evidence.get("rating_count") or 0
    if rating is not None and count >= MIN_RATINGS and rating < LOW_RATING:
        reasons.append(f"骑手评分 {rating:.1f}（{count} 人）")
    reports = evidence.get("reports_year") or 0
    if reports >= MAX_REPORTS:
        reasons.append(f"近一年 {reports} 次“关门/找不到”报告")
    return reasons


def face_project(criteria: dict, total: float | None, evidence: dict) -> list[str]:
    """Why a station looks like a 面子工程 (Chinese reasons; empty when it does not)."""
    reasons = []
    looks = [criteria[k] for k in APPEARANCE if criteria.get(k) is not None]
    works = [criteria[k] for k in SUBSTANCE if criteria.get(k) is not None]
    if looks and works:
        gap = sum(looks) / len(looks) - sum(works) / len(works)
        if gap >= FACE_GAP:
            reasons.append(f"外观比实质高 {gap:.1f} 分")
    if total is not None and total >= FACE_HIGH_TOTAL:
        poor = poor_evidence(evidence)
        if poor:
            reasons.append("高分但使用证据差：" + "；".join(poor))
    return reasons


def rank_campaign(nominees: list[dict], reviews: list[dict], rubric: dict, *,
                  normalise: bool = False, evidence: dict | None = None) -> dict:
    """The ranking of a campaign's nominees from their submitted reviews.

    Parameters
    ----------
    nominees : list of dict
        ``station_id`` and ``name`` (and whatever else to carry, e.g. ``district``).
    reviews : list of dict
        Submitted reviews: ``id``, ``station_id``, ``reviewer_id``, ``scores``
        {criterion: 0–10}, ``items`` [item keys].
    evidence : dict
        {station id: evidence of use} (``hours_per_week``, ``is_24h``, ``rating``,
        ``rating_count``, ``reports_year``).

    Returns
    -------
    dict
        ``ranking``: rows in rank order (stations without reviews last, rank None);
        ``agreement``: ``kendall_w`` and ``reviewers``.
    """
    evidence = evidence or {}
    priority = {i["key"] for c in rubric["criteria"] for i in c["items"] if i["priority"]}
    keys = [c["key"] for c in rubric["criteria"]]
    weights = [(c["key"], float(c["weight"])) for c in rubric["criteria"]]
    scored = []
    for r in reviews:  # weighted_total inlined: this loop runs once per review (25,000 at national scale)
        scores, num, den = r["scores"], 0.0, 0.0
        for key, weight in weights:
            value = scores.get(key)
            if value is not None:
                num += weight * value
                den += weight
        if den:
            scored.append({**r, "total": num / den * 10})
    reviews = scored
    adjusted = normalise_by_reviewer(reviews) if normalise else {r["id"]: r["total"] for r in reviews}
    by_station = defaultdict(list)
    for r in reviews:
        by_station[r["station_id"]].append(r)
    rows = []
    for nominee in nominees:
        sid = nominee["station_id"]
        own = by_station.get(sid, ())
        totals = [adjusted[r["id"]] for r in own]
        total = aggregate(totals)
        sums, counts, ticks = dict.fromkeys(keys, 0.0), dict.fromkeys(keys, 0), defaultdict(int)
        for r in own:
            for key, value in r["scores"].items():
                if value is not None and key in sums:
                    sums[key] += value
                    counts[key] += 1
            for item in set(r["items"]):
                ticks[item] += 1
        criteria = {k: round(sums[k] / counts[k], 2) if counts[k] else None for k in keys}
        confirmed = sorted(i for i, n in ticks.items() if n * 2 > len(own))
        ev = evidence.get(sid, {})
        flags = []
        face = face_project(criteria, total, ev) if own else []
        if face:
            flags.append("face_project")
        deviation = spread(totals)
        if len(own) >= 2 and deviation > LOW_AGREEMENT_SD:
            flags.append("low_agreement")
        rows.append({**nominee, "total": None if total is None else round(total, 2),
                     "criteria": criteria, "reviews": len(own),
                     "spread": round(deviation, 2), "flags": flags, "face_reasons": face,
                     "priority_confirmed": len([i for i in confirmed if i in priority]),
                     "items_confirmed": confirmed, "rating": ev.get("rating")})
    rows.sort(key=lambda r: (r["total"] is None, -(r["total"] or 0), -r["priority_confirmed"],
                             -(r["rating"] or 0), r["station_id"]))
    for place, row in enumerate(rows, 1):
        row["rank"] = place if row["total"] is not None else None
    per_reviewer = defaultdict(dict)
    for r in reviews:
        per_reviewer[r["reviewer_id"]][r["station_id"]] = r["total"]
    w = kendall_w(per_reviewer)
    return {"ranking": rows, "agreement": {
        "kendall_w": None if w is None else round(w, 4), "reviewers": len(per_reviewer)}}
