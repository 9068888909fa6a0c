"""Scores into a ranking: aggregation, per-reviewer normalisation, agreement, ties, flags.

Pure functions over plain data; ``rank_campaign`` puts them together.  The rules
written here are the ones the ranking page states (``RULES``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..ledger.checkins import COUNTED_ONCE, riders_counted
from ..ledger.flags import Thresholds
from .rubric import APPEARANCE, SUBSTANCE

__all__ = ["RULES", "ranking_rules", "ledger_limits", "aggregate", "spread", "normalise_by_reviewer", "kendall_w", "face_project",
           "poor_evidence", "rank_campaign", "ReviewColumns", "TRIM_FROM"]

TRIM_FROM = 5            # with this many reviews or more, drop the highest and the lowest
LOW_AGREEMENT_SD = 15.0  # review totals' standard deviation (0–100 scale) above this: low agreement
FACE_GAP = 3.0           # appearance mean minus substance mean (0–10) at least this: 面子工程
FACE_HIGH_TOTAL = 80.0   # … or a total at least this with poor evidence of use
MIN_WEEKLY_HOURS = 40.0  # evidence is poor: open fewer hours a week than this (not 24-hour),
LOW_RATING = 3.0         # or riders rate it below this (with at least MIN_RATINGS ratings),
MIN_RATINGS = 3
MAX_REPORTS = 2          # or this many "closed"/"not found" reports in the past year
LEDGER_DAYS = 90         # where the ledger is in use (issue 8): its figures over these days,
LEDGER_ITEM = "ledger"   # the priority item 有服务台账: a kept ledger confirms it (issue 8)
# riders' check-ins and feedback together, in client-days (one phone at the station on one
# day counts once), at most the ledger flags' "near zero" (YIZHAN_LEDGER_FLAG_NEAR_ZERO) while
# the ledger is not kept, or claims as many visits as the flags' YIZHAN_LEDGER_FLAG_VISITS
# per YIZHAN_LEDGER_FLAG_DAYS, over LEDGER_DAYS (see ``ledger_limits``).


def ledger_limits(thresholds: Thresholds, days: int = LEDGER_DAYS) -> tuple[int, int]:
    """(few check-ins and feedback, claimed visits) over ``days`` from the ledger flags'
    thresholds: check-ins and feedback together at most ``near_zero``; visits at least ``min_visits`` per ``window_days``,
    scaled to ``days`` (300 in 30 days: 900 in 90)."""
    return thresholds.near_zero, math.ceil(thresholds.min_visits * days / max(thresholds.window_days, 1))


FEW_CHECKINS, CLAIMED_VISITS = ledger_limits(Thresholds())  # with the settings' defaults: 2 and 900


def ranking_rules(thresholds: Thresholds | None = None, rubric: dict | None = None) -> dict:
    """The rules as the ranking page states them, with the ledger flags' thresholds.

    With a campaign's ``rubric`` the 面子工程 rule names its criteria as that rubric
    calls them (an organiser may rename or remove them before review).
    """
    t = thresholds or Thresholds()
    few, claimed = ledger_limits(t)
    names = {"site": "有场地", "signage": "有标识", "publicity": "有宣传", "service": "有服务", "effect": "有成效"}
    if rubric is not None:
        names = {c["key"]: c["name"] for c in rubric["criteria"] if c["key"] in names}
    looks = "、".join(names[k] for k in APPEARANCE if k in names)
    works = "、".join(names[k] for k in SUBSTANCE if k in names)
    gap = (f"外观（{looks}）平均分比实质（{works}）平均分高出 {FACE_GAP:g} 分（满分 10）或以上；或"
           if looks and works else "（本活动的评审标准缺少外观或实质类标准，不比较两者的分差）")
    return {
        "aggregate": f"总分为各评审加权总分的平均；评审数达到 {TRIM_FROM} 份时去掉一个最高分和一个最低分后平均。",
        "normalise": "标准化（可选）：每位评审的总分先换算为该评审自己的 z 分数（减去其平均、除以其标准差），"
                     "再乘以全体评审总分的标准差、加上全体平均，以抵消评审偏严或偏松。只有一份评分的评审不调整；"
                     "评分全部相同的评审只做平移。",
        "ties": "总分（保留两位小数）相同时，依次比较：过半评审确认的优先推荐项数（多者在前；坚持记录服务台账的站点，"
                "“有服务台账”一项计为已确认）、骑手评分（高者在前）、站点编号（小者在前）。",
        "face": f"面子工程：{gap}总分不低于 {FACE_HIGH_TOTAL:g} 但使用证据差——每周开放不足 "
                f"{MIN_WEEKLY_HOURS:g} 小时且非24小时、骑手评分低于 {LOW_RATING:g}（至少 {MIN_RATINGS} 人评价）、"
                f"或近一年有 {MAX_REPORTS} 次以上“关门/找不到”报告；推荐站点中已有服务台账或骑手签到记录时，还看近 "
                f"{LEDGER_DAYS} 天的台账、签到与反馈——骑手签到与反馈合计不超过 {few} 人次·日（{COUNTED_ONCE}），"
                f"而服务台账未坚持记录"
                f"（记账不足一半的日子）或台账记来访 {claimed:,} 人次以上（与台账核查标记同一标准：每 {t.window_days} 天 "
                f"{t.min_visits:,} 人次，签到与反馈合计不超过 {t.near_zero} 人次·日即几乎为零），也算使用证据差。",
        "agreement": f"低一致：评审总分的标准差超过 {LOW_AGREEMENT_SD:g} 分。评审一致性 Kendall W：每位评审在自己"
                     "评审的站点内排名，W = Σ(各站名次离差之和)² ÷ Σ(评审人数 × 名次离差平方和)，"
                     "只计至少两份评分的站点；每位评审都评了全部站点时即经典 Kendall W（含同分校正）。"
                     "1 为完全一致，接近 0 为几乎随机。",
    }


RULES = ranking_rules()  # with the default thresholds


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
    reviewer = _codes([r["reviewer_id"] for r in reviews])
    adjusted = _normalise(reviewer, np.array([r["total"] for r in reviews], dtype=float))
    return dict(zip((r["id"] for r in reviews), adjusted.tolist()))


def _codes(values) -> np.ndarray:
    """Each value as a small integer, equal values equal codes: ids of any kind as array codes."""
    if values and all(type(v) is int for v in (values[0], values[-1])):
        try:
            return np.unique(np.asarray(values, dtype=np.int64), return_inverse=True)[1].reshape(-1)
        except (TypeError, ValueError, OverflowError):
            pass  # not all whole numbers after all
    numbers = {}
    return np.fromiter((numbers.setdefault(v, len(numbers)) for v in values), np.int64, len(values))


def _normalise(reviewer: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """The totals with each reviewer's own z-scores mapped onto everyone's mean and spread."""
    grand_mean, grand_sd = totals.mean(), totals.std()
    count = np.bincount(reviewer)
    mean = np.bincount(reviewer, totals) / count
    sd = np.sqrt(np.bincount(reviewer, (totals - mean[reviewer]) ** 2) / count)
    low, high = np.full(len(count), np.inf), np.full(len(count), -np.inf)
    np.minimum.at(low, reviewer, totals)
    np.maximum.at(high, reviewer, totals)
    own_mean, own_sd, n = mean[reviewer], sd[reviewer], count[reviewer]
    same = (low == high)[reviewer] | (own_sd == 0)  # all alike: only shifted
    with np.errstate(divide="ignore", invalid="ignore"):
        z = grand_mean + (totals - own_mean) / own_sd * grand_sd
    return np.where(n < 2, totals, np.where(same, totals - own_mean + grand_mean, z))


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
    triples = [(reviewer, station, total) for reviewer, own in scores.items() for station, total in own.items()]
    return _kendall_w(_codes([t[0] for t in triples]), _codes([t[1] for t in triples]),
                      np.array([t[2] for t in triples], dtype=float))


def _kendall_w(reviewer: np.ndarray, station: np.ndarray, totals: np.ndarray) -> float | None:
    """kendall_w over parallel arrays (one entry per reviewer and station, no NaN)."""
    n = len(totals)
    if n == 0:
        return None
    order = np.lexsort((-totals, reviewer))  # each reviewer's stations, best first
    who, value = reviewer[order], totals[order]
    starts_reviewer = np.r_[True, who[1:] != who[:-1]]
    first_of_reviewer = np.flatnonzero(starts_reviewer)
    group = np.cumsum(starts_reviewer) - 1
    size = np.diff(np.r_[first_of_reviewer, n])[group]
    place = np.arange(n) - first_of_reviewer[group]  # 0-based place within the reviewer's list
    starts_tie = starts_reviewer | np.r_[True, value[1:] != value[:-1]]
    first_of_tie = np.flatnonzero(starts_tie)
    tie = np.cumsum(starts_tie) - 1
    tie_size = np.diff(np.r_[first_of_tie, n])[tie]
    rank = place[first_of_tie][tie] + (tie_size - 1) / 2 + 1  # ties share the mean of their places
    counted = size >= 2
    deviation = (rank - (size + 1) / 2)[counted]
    _, per_station = np.unique(station[order][counted], return_inverse=True)
    m = np.bincount(per_station)
    if not len(m):
        return None
    sums = np.bincount(per_station, deviation)
    squares = np.bincount(per_station, deviation * deviation)
    agreed = m >= 2
    num = float((sums[agreed] ** 2).sum())
    den = float((m[agreed] * squares[agreed]).sum())
    if den == 0:
        return None if num == 0 and not agreed.any() else 0.0
    return num / den


def poor_evidence(evidence: dict, thresholds: Thresholds | None = None) -> list[str]:
    """Why a station's evidence of use is poor (Chinese reasons; empty when it is not);
    ``thresholds``: the ledger flags' (the settings ``YIZHAN_LEDGER_FLAG_*``)."""
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
    ledger = evidence.get("ledger")
    if ledger and evidence.get("ledger_in_use"):  # the ledger's own figures (stations.ledger.ledger_evidence)
        days = ledger.get("days") or LEDGER_DAYS
        # client-days (one phone at the station on one day counts once); evidence given
        # without them (older callers) counts each check-in and post on its own
        checkins = ledger.get("checkin_client_days", ledger.get("checkins")) or 0
        feedback = ledger.get("feedback_client_days", ledger.get("feedback")) or 0
        visits = ledger.get("visits") or 0
        few_checkins, claimed_visits = ledger_limits(thresholds or Thresholds(), days)
        if checkins + feedback <= few_checkins:  # as the ledger flags count "near zero"
            riders = f"{riders_counted(checkins, feedback)}（{COUNTED_ONCE}）"
            if not ledger.get("kept"):
                reasons.append(f"近 {days} 天{riders}，服务台账仅 {ledger.get('entries') or 0} 天有记录")
            elif visits >= claimed_visits:
                reasons.append(f"近 {days} 天台账记来访 {visits:,} 人次，骑手却只签到 {checkins:,} 人次·日、"
                               f"反馈 {feedback:,} 人次·日（{COUNTED_ONCE}）")
    return reasons


def face_project(criteria: dict, total: float | None, evidence: dict,
                 thresholds: Thresholds | None = None) -> list[str]:
    """Why a station looks like a 面子工程 (Chinese reasons; empty when it does not)."""
    reasons = []
    looks = [criteria[k] for k in APPEARANCE if criteria.get(k) is not None]
    works = [criteria[k] for k in SUBSTANCE if criteria.get(k) is not None]
    if looks and works:
        gap = sum(looks) / len(looks) - sum(works) / len(works)
        if gap >= FACE_GAP:
            reasons.append(f"外观比实质高 {gap:.1f} 分")
    if total is not None and total >= FACE_HIGH_TOTAL:
        poor = poor_evidence(evidence, thresholds)
        if poor:
            reasons.append("高分但使用证据差：" + "；".join(poor))
    return reasons


def _places(nominee_ids: list, station_ids: list) -> np.ndarray:
    """For each review, the place of its station in ``nominee_ids`` (-1 when not a nominee)."""
    try:
        nominees = np.asarray(nominee_ids, dtype=np.int64)
        stations = np.asarray(station_ids, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        place = {s: j for j, s in enumerate(nominee_ids)}
        return np.fromiter((place.get(s, -1) for s in station_ids), np.int64, len(station_ids))
    order = np.argsort(nominees, kind="stable")
    at = np.searchsorted(nominees[order], stations).clip(0, max(len(nominees) - 1, 0))
    found = (nominees[order][at] == stations) if len(nominees) else np.zeros(len(stations), dtype=bool)
    return np.where(found, order[at] if len(nominees) else -1, -1)


def _confirmed_items(station: np.ndarray, items: list, count: np.ndarray) -> list[list]:
    """For each nominee, the items ticked by more than half of its reviews (each review
    counting an item once)."""
    confirmed = [[] for _ in range(len(count))]
    lengths = np.fromiter(map(len, items), np.int64, len(items))
    if not lengths.sum():
        return confirmed
    flat = [i for ticked in items for i in ticked]
    names, item = np.unique(np.asarray(flat, dtype=object).astype(str), return_inverse=True)
    review = np.repeat(np.arange(len(items)), lengths)
    keep = station[review] >= 0
    pairs = np.unique(review[keep] * len(names) + item.reshape(-1)[keep])  # one tick per review and item
    per_station = station[pairs // len(names)] * len(names) + pairs % len(names)
    cells, ticks = np.unique(per_station, return_counts=True)
    where, which = cells // len(names), cells % len(names)
    agreed = ticks * 2 > count[where]
    for j, k in zip(where[agreed].tolist(), which[agreed].tolist()):
        confirmed[j].append(str(names[k]))
    return confirmed


@dataclass
class ReviewColumns:
    """Submitted reviews as columns, one entry per review (what ``rank_campaign`` reads).

    ``scores`` has one column per criterion of the rubric, in its order, NaN where a
    criterion was not scored; ``items`` holds each review's ticked item keys.
    """

    ids: list
    station_ids: list
    reviewer_ids: list
    scores: np.ndarray
    items: list

    @classmethod
    def from_dicts(cls, reviews: list[dict], keys: list[str]) -> ReviewColumns:
        nan = math.nan
        scores = np.array([[nan if (v := r["scores"].get(k)) is None else v for k in keys] for r in reviews],
                          dtype=float).reshape(len(reviews), len(keys))
        return cls([r["id"] for r in reviews], [r["station_id"] for r in reviews],
                   [r["reviewer_id"] for r in reviews], scores, [r["items"] for r in reviews])

    def take(self, rows: np.ndarray) -> ReviewColumns:
        if len(rows) == len(self.ids):
            return self
        pick = rows.tolist()
        return ReviewColumns([self.ids[i] for i in pick], [self.station_ids[i] for i in pick],
                             [self.reviewer_ids[i] for i in pick], self.scores[rows], [self.items[i] for i in pick])


def rank_campaign(nominees: list[dict], reviews, rubric: dict, *,
                  normalise: bool = False, evidence: dict | None = None,
                  thresholds: Thresholds | None = None) -> dict:
    """The ranking of a campaign's nominees from their submitted reviews.

    Vectorised over the reviews (25,000 at national scale): one array per criterion,
    per-station and per-reviewer sums by ``np.bincount``.

    Parameters
    ----------
    nominees : list of dict
        ``station_id`` and ``name`` (and whatever else to carry, e.g. ``district``).
    reviews : list of dict, or ReviewColumns
        Submitted reviews: ``id``, ``station_id``, ``reviewer_id``, ``scores``
        {criterion: 0–10}, ``items`` [item keys]; one per reviewer and station.  The
        same as columns (``ReviewColumns``, scores in the rubric's order) skips the
        conversion: that is how the live ranking reads them from the database.
    evidence : dict
        {station id: evidence of use} (``hours_per_week``, ``is_24h``, ``rating``,
        ``rating_count``, ``reports_year``; ``ledger``, the ledger's last 90 days, and
        ``ledger_in_use``, whether any nominee has ledger entries or check-ins in them).
    thresholds : Thresholds
        The ledger flags' thresholds (settings ``YIZHAN_LEDGER_FLAG_*``), which the
        面子工程 rule's ledger part uses too (default: the settings' defaults).

    Returns
    -------
    dict
        ``ranking``: rows in rank order (stations without reviews last, rank None);
        ``agreement``: ``kendall_w`` and ``reviewers``.
    """
    evidence = evidence or {}
    priority = {i["key"] for c in rubric["criteria"] for i in c["items"] if i["priority"]}
    keys = [c["key"] for c in rubric["criteria"]]
    nan = math.nan
    if not isinstance(reviews, ReviewColumns):
        reviews = ReviewColumns.from_dicts(reviews, keys)
    scores = reviews.scores
    num, den = np.zeros(len(reviews.ids)), np.zeros(len(reviews.ids))
    for j, c in enumerate(rubric["criteria"]):  # the weighted mean, criterion by criterion
        given = ~np.isnan(scores[:, j])
        num += np.where(given, float(c["weight"]) * np.nan_to_num(scores[:, j]), 0.0)
        den += np.where(given, float(c["weight"]), 0.0)
    scored = np.flatnonzero(den != 0)  # a review with no weighted score counts nowhere
    reviews = reviews.take(scored)
    scores, totals = scores[scored], (num[scored] / den[scored]) * 10
    reviewer = _codes(reviews.reviewer_ids)
    adjusted = _normalise(reviewer, totals) if normalise and len(totals) else totals

    station = _places([n["station_id"] for n in nominees], reviews.station_ids)
    mine = station >= 0  # reviews of stations no longer nominated count for agreement only
    at, value = station[mine], adjusted[mine]
    size = len(nominees)
    count = np.bincount(at, minlength=size)
    total_sum = np.bincount(at, value, minlength=size)
    low, high = np.full(size, np.inf), np.full(size, -np.inf)
    np.minimum.at(low, at, value)
    np.maximum.at(high, at, value)
    with np.errstate(divide="ignore", invalid="ignore"):
        trimmed = count >= TRIM_FROM
        total = np.where(trimmed, (total_sum - low - high) / (count - 2), total_sum / count)
        mean = total_sum / count
        deviation = np.sqrt(np.bincount(at, (value - mean[at]) ** 2, minlength=size) / count)
        criteria = []
        for j in range(len(keys)):
            given = ~np.isnan(scores[mine, j])
            sums = np.bincount(at, np.where(given, scores[mine, j], 0.0), minlength=size)
            criteria.append(sums / np.bincount(at, given, minlength=size))
    deviation = np.where(count >= 2, deviation, 0.0)
    criteria = np.column_stack(criteria) if keys else np.zeros((size, 0))
    looks = [keys.index(k) for k in APPEARANCE if k in keys]
    works = [keys.index(k) for k in SUBSTANCE if k in keys]
    rounded = np.round(criteria, 2)
    with warnings.catch_warnings():  # nanmean of an all-NaN row warns; its NaN is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        gap = (np.nanmean(rounded[:, looks], axis=1) - np.nanmean(rounded[:, works], axis=1)
               if looks and works else np.full(size, nan))
    # face_project decides; this only spares calling it for rows that cannot be flagged
    # (the margin covers NumPy's and Python's rounding differing at a half).
    maybe_face = (count > 0) & ((gap >= FACE_GAP - 0.05) | (total >= FACE_HIGH_TOTAL))
    confirmed = _confirmed_items(station, reviews.items, count)

    rows = []
    count_l, total_l, dev_l = count.tolist(), total.tolist(), deviation.tolist()
    criteria_l, maybe_l = criteria.tolist(), maybe_face.tolist()
    for j, nominee in enumerate(nominees):
        n = count_l[j]
        own_total = total_l[j] if n else None
        crit = {k: (round(v, 2) if n and not math.isnan(v) else None) for k, v in zip(keys, criteria_l[j])}
        ev = evidence.get(nominee["station_id"], {})
        face = face_project(crit, own_total, ev, thresholds) if maybe_l[j] else []
        flags = ["face_project"] if face else []
        if n >= 2 and dev_l[j] > LOW_AGREEMENT_SD:
            flags.append("low_agreement")
        items = sorted(confirmed[j])
        if LEDGER_ITEM in priority and LEDGER_ITEM not in items and (ev.get("ledger") or {}).get("kept"):
            items = sorted([*items, LEDGER_ITEM])  # a kept service ledger evidences 服务台账
        rows.append({**nominee, "total": None if own_total is None else round(own_total, 2),
                     "criteria": crit, "reviews": n, "spread": round(dev_l[j], 2), "flags": flags,
                     "face_reasons": face, "priority_confirmed": sum(i in priority for i in items),
                     "items_confirmed": items, "rating": ev.get("rating")})
    rows.sort(key=lambda r: (r["total"] is None, -(r["total"] or 0), -r["priority_confirmed"],
                             -(r["rating"] or 0), r["station_id"]))
    for number, row in enumerate(rows, 1):
        row["rank"] = number if row["total"] is not None else None
    w = _kendall_w(reviewer, _codes(reviews.station_ids), totals) if len(totals) else None
    return {"ranking": rows, "agreement": {
        "kendall_w": None if w is None else round(w, 4), "reviewers": len(np.unique(reviewer))}}

