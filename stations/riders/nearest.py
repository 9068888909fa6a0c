"""Nearest-station search: a KD-tree on unit-sphere vectors, kept in memory.

Points are placed on a sphere of the Earth's mean radius; the straight-line
(chord) distance between two such points grows monotonically with the distance
along the surface, so the tree's nearest are the true nearest, and haversine
distances are computed for the answers.  Filters (status, facilities, open now)
are applied to candidates in order of distance, widening the search until k
matches are found or the radius or the data run out, so a filtered answer is
the same set a brute-force scan would give.
"""

from __future__ import annotations

import math
import threading
from array import array
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.spatial import cKDTree

from ..hours import HoursError, OpeningHours, parse_hours
from ..registry.records import FACILITIES
from ..storage import TZ, data_version, station_index_rows
from ..registry.validation import EARTH_RADIUS_M, lonlat_to_xyz

__all__ = ["NearestIndex", "Hit", "haversine_m", "brute_force_nearest", "index_for",
           "WALK_SPEED_KMH", "RIDE_SPEED_KMH", "DETOUR", "travel_minutes"]

WALK_SPEED_KMH = 5.0   # DESIGN.md §6
RIDE_SPEED_KMH = 15.0  # e-bike or bicycle, DESIGN.md §6
DETOUR = 1.3           # street distance ÷ straight-line distance
_FACILITY_BIT = {code: 1 << i for i, code in enumerate(FACILITIES)}


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres on the sphere of radius EARTH_RADIUS_M (vectorised)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _chord(metres: float) -> float:
    return 2 * EARTH_RADIUS_M * math.sin(min(metres, math.pi * EARTH_RADIUS_M) / (2 * EARTH_RADIUS_M))


def _xyz(lon, lat) -> tuple:
    """One point on the sphere (what lonlat_to_xyz does for arrays, without numpy's overhead)."""
    lon, lat = math.radians(lon), math.radians(lat)
    return (EARTH_RADIUS_M * math.cos(lat) * math.cos(lon),
            EARTH_RADIUS_M * math.cos(lat) * math.sin(lon), EARTH_RADIUS_M * math.sin(lat))


def facility_mask(codes) -> int:
    mask = 0
    for code in codes or ():
        mask |= _FACILITY_BIT.get(code, 0)
    return mask


@dataclass(slots=True)
class Hit:
    station_id: int
    distance_m: float
    open_now: bool | None
    station: dict | None = None  # the record, when the index keeps rows

    @property
    def walk_minutes(self) -> int:
        """Walking time on streets: straight line × detour ÷ 5 km/h, rounded up."""
        return travel_minutes(self.distance_m, WALK_SPEED_KMH)

    @property
    def ride_minutes(self) -> int:
        """E-bike time on streets: straight line × detour ÷ 15 km/h, rounded up."""
        return travel_minutes(self.distance_m, RIDE_SPEED_KMH)


def travel_minutes(distance_m: float, speed_kmh: float) -> int:
    """Minutes on streets for a straight-line distance: × detour ÷ speed, rounded up, ≥ 1."""
    return max(1, math.ceil(distance_m * DETOUR / (speed_kmh * 1000 / 60)))


_TIE_M = 0.002  # answers are ranked by distance to the millimetre, then by id
_TWO_R = 2 * EARTH_RADIUS_M
_STATUS_CODE = {"active": 0, "temporarily_closed": 1, "closed": 2, "pending": 3}


class _Memo(dict):
    """{timetable number: open} for one minute, and that minute of the week."""

    __slots__ = ("week_minute",)


class NearestIndex:
    """An in-memory index of stations for nearest queries.

    Parameters
    ----------
    stations : iterable of dict
        Station records with at least ``id``, WGS-84 ``lon``/``lat``, ``status``,
        ``facilities`` and ``hours``.
    keep_rows : bool
        Keep the records and hand them back in each Hit.  The app indexes narrow
        rows without keeping them (200,000 full records cost ~400 MiB a process)
        and fetches the few it answers with by id.
    """

    def __init__(self, stations, keep_rows: bool = True):
        self.stations = list(stations)
        n = len(self.stations)
        self.lons = np.fromiter((s["lon"] for s in self.stations), float, n)
        self.lats = np.fromiter((s["lat"] for s in self.stations), float, n)
        self.ids = np.fromiter((s["id"] for s in self.stations), np.int64, n)
        self.masks = np.fromiter((facility_mask(s.get("facilities")) for s in self.stations),
                                 np.int64, n)
        self.status_codes = np.fromiter((_STATUS_CODE.get(s["status"], 9) for s in self.stations),
                                        np.int8, n)
        # Stations share a few hundred distinct timetables: parse each text once, and
        # number them, so "open now" is worked out once per timetable and minute.
        self.hours = [_hours_or_none(s.get("hours")) for s in self.stations]
        self.always = np.fromiter((h is not None and h.is_24h for h in self.hours), bool, n)
        numbers, self.timetables = {}, []
        for hours in self.hours:
            if hours is not None and id(hours) not in numbers:
                numbers[id(hours)] = len(self.timetables)
                self.timetables.append(hours)
        self.timetable_of = [-1 if h is None else numbers[id(h)] for h in self.hours]
        # A plain weekly timetable is answered from its open intervals in minutes of the
        # week, the minute worked out once per memo (None: ask the timetable, which may
        # need China's calendar).
        self._week_spans = [h.week_intervals() if isinstance(h, OpeningHours) else None
                            for h in self.timetables]
        self._minute = None  # (minute, {timetable number: open}) for the last minute asked
        xyz = lonlat_to_xyz(self.lons, self.lats)
        self.tree = cKDTree(xyz) if n else None
        # The common question (active stations, no other filter) gets a tree of its own,
        # so its nearest need no filtering at all.
        self.active = np.flatnonzero(self.status_codes == 0)
        self.active_tree = cKDTree(xyz[self.active]) if len(self.active) else None
        # Plain arrays for the few rows an answer reads: indexing them gives Python
        # numbers directly, without NumPy's per-call overhead (8 bytes a value).
        self._lons, self._lats = array("d", self.lons.tobytes()), array("d", self.lats.tobytes())
        self._ids = array("q", self.ids.tobytes())
        self._rlons = array("d", np.radians(self.lons).tobytes())
        self._rlats = array("d", np.radians(self.lats).tobytes())
        self._coslats = array("d", np.cos(np.radians(self.lats)).tobytes())
        self._active = array("q", self.active.astype(np.int64).tobytes())
        if not keep_rows:
            self.stations = None
        self.n = n
        self.features = {}  # (station id, datum) -> its GeoJSON Feature as JSON, filled by callers
        self.subsets = {}  # filter key -> subset(), filled by callers (award/七有 filters)

    def __len__(self):
        return self.n

    def subset(self, keep) -> tuple:
        """(tree, rows) over the rows where the boolean array ``keep`` is true, for
        ``query(subset=…)``: a sparse filter then searches a small tree of its own
        instead of widening over every station."""
        rows = np.flatnonzero(keep)
        return (cKDTree(self.tree.data[rows]) if len(rows) else None), rows

    def _open_memo(self, at) -> dict:
        """{timetable number: open} for the minute of ``at``, shared by every query in
        that minute (opening hours are written to the minute)."""
        cached = self._minute
        if cached is not None and cached[2] is at:  # the same moment asked again
            return cached[1]
        minute = at.replace(second=0, microsecond=0)
        if cached is not None and cached[0] == minute:
            self._minute = (minute, cached[1], at)
            return cached[1]
        memo = _Memo()
        local = at if at.tzinfo is None else at.astimezone(TZ)  # Beijing wall clock
        memo.week_minute = local.weekday() * 1440 + local.hour * 60 + local.minute
        self._minute = (minute, memo, at)
        return memo

    def _timetable_open(self, number, at, memo) -> bool | None:
        """Whether timetable ``number`` is open at ``at`` (in the memo's minute)."""
        spans = self._week_spans[number]
        if spans is None:
            return self.timetables[number].is_open(at)
        minute = memo.week_minute
        for start, end in spans:
            if start <= minute < end:
                return True
        return False

    def _open_state(self, i, at, memo) -> bool | None:
        """Open at ``at``: True/False, None when the hours are unknown."""
        if self.status_codes[i] != 0:
            return False
        number = self.timetable_of[i]
        if number < 0:
            return None
        if number not in memo:
            memo[number] = self._timetable_open(number, at, memo)
        return memo[number]

    def open_ids(self, at: datetime) -> np.ndarray:
        """Ids of the stations open at ``at``: active, with hours that say so (a timetable
        is asked once per minute, as in ``query``)."""
        memo = self._open_memo(at)
        keep = np.fromiter((self._open_state(i, at, memo) is True for i in self._active), bool,
                           len(self._active))
        return self.ids[self.active[keep]]

    def query(self, lon, lat, k=5, *, radius_m=None, status="active", facilities=(),
              open_now=False, only_24h=False, at: datetime | None = None, subset=None) -> list[Hit]:
        """The k nearest stations to (lon, lat) (WGS-84) that pass every filter.

        Ties in distance are broken by station id, so answers are deterministic.
        """
        if self.tree is None or k <= 0:
            return []
        at = at or datetime.now(TZ)
        if (status == "active" and not facilities and not open_now and not only_24h
                and subset is None and self.active_tree is not None):
            # The common question (the rider page, the API without filters): one query
            # of the active stations' own tree, ranked in plain floats.
            bound = _chord(radius_m) * (1 + 1e-9) + 1e-6 if radius_m is not None else np.inf
            hits = self._active_answer(lon, lat, k, bound, radius_m, at)
            if hits is not None:
                return hits
        mask = facility_mask(facilities)
        status_code = _STATUS_CODE.get(status, -1) if status else None
        target = _xyz(lon, lat)
        bound = _chord(radius_m) * (1 + 1e-9) + 1e-6 if radius_m is not None else np.inf
        n = self.n
        memo = self._open_memo(at)
        if (status == "active" and not mask and not only_24h and not open_now
                and self.active_tree is not None and subset is None):
            hits = self._active_nearest(target, k, bound)
            if hits is not None:
                return self._rank(hits, lon, lat, k, radius_m, at, memo)
        tree, rows = (self.tree, None) if subset is None else subset
        if rows is not None:  # only these rows may answer (a filter the tree does not know)
            if tree is None:
                return []
            n = len(rows)
        want = min(n, max(k * 4, 16))
        while True:
            dists, idx = tree.query(target, k=want, distance_upper_bound=bound)
            dists, idx = np.atleast_1d(dists), np.atleast_1d(idx)
            valid = idx < n
            dists, idx = dists[valid], idx[valid]
            if rows is not None:
                idx = rows[idx]
            ok = np.ones(len(idx), dtype=bool)
            if status_code is not None:
                ok &= self.status_codes[idx] == status_code
            if mask:
                ok &= (self.masks[idx] & mask) == mask
            if only_24h:
                ok &= self.always[idx]
            if open_now:
                for j in np.flatnonzero(ok):
                    ok[j] = self._open_state(idx[j], at, memo) is True
            hits, hit_dists = idx[ok], dists[ok]
            if len(idx) < want or want >= n:
                break  # every station within the bound has been seen
            # Done when k pass and no station tied with the k-th may lie just outside
            # the candidates (its id might win the tie); otherwise widen.
            if len(hits) >= k and dists[-1] - hit_dists[k - 1] > _TIE_M:
                break
            want = min(n, want * 4)
        return self._rank(hits, lon, lat, k, radius_m, at, memo)

    def _active_answer(self, lon, lat, k, bound, radius_m, at):
        """``_rank(_active_nearest(…))`` in one pass over plain floats (the hot path:
        a k=5 answer costs little more than the tree query itself).  None when a tie
        at the k-th place needs the general search."""
        m = len(self.active)
        want = min(m, k + 1)
        dists, idx = self.active_tree.query(_xyz(lon, lat), k=want, distance_upper_bound=bound)
        if want == 1:
            dl, il = [float(dists)], [int(idx)]
        else:
            dl, il = dists.tolist(), idx.tolist()
        if il[-1] >= m:  # fewer stations within the bound (misses come last, index m)
            cut = il.index(m)
            dl, il = dl[:cut], il[:cut]
        if len(il) == want and want > k and dl[k] - dl[k - 1] <= _TIE_M:
            return None
        del il[k:]
        # The tree's chord distances give the great-circle ones directly (the same
        # sphere): 2R·asin(chord / 2R), the haversine result to a few nanometres.
        active, ids, timetable_of, asin = self._active, self._ids, self.timetable_of, math.asin
        rows = [active[j] for j in il]
        metres = [_TWO_R * asin(min(d / _TWO_R, 1.0)) for d in dl[:len(rows)]]
        order = range(len(rows))
        # Already nearest first; ids break ties only between distances equal to the
        # millimetre, so the keys are worked out only when two are that close.
        if any(metres[j + 1] - metres[j] < 0.001 for j in range(len(metres) - 1)):
            order = sorted(order, key=lambda j: (round(metres[j], 3), ids[rows[j]]))
        memo = self._open_memo(at)
        out = []
        for j in order:
            d = metres[j]
            if radius_m is not None and d > radius_m:
                continue
            i = rows[j]
            number = timetable_of[i]  # active: open as its timetable says
            if number < 0:
                state = None
            else:
                state = memo.get(number)
                if state is None and number not in memo:
                    state = memo[number] = self._timetable_open(number, at, memo)
            out.append(Hit(ids[i], d, state, self.stations[i] if self.stations is not None else None))
        return out

    def _active_nearest(self, target, k, bound):
        """The k nearest active stations, or None when a tie at the k-th place needs the
        general search (which breaks ties by id)."""
        m = len(self.active)
        want = min(m, k + 1)
        dists, idx = self.active_tree.query(target, k=want, distance_upper_bound=bound)
        if want == 1:
            pairs = [(float(dists), int(idx))]
        else:
            pairs = list(zip(dists.tolist(), idx.tolist()))
        pairs = [p for p in pairs if p[1] < m]
        if len(pairs) == want and want > k and pairs[k][0] - pairs[k - 1][0] <= _TIE_M:
            return None
        active = self._active
        return [active[i] for _, i in pairs[:k]]

    def _rank(self, hits, lon, lat, k, radius_m, at, memo) -> list[Hit]:
        """Exact haversine distances for the candidate rows, nearest first, ties by id."""
        if not len(hits):
            return []
        if len(hits) <= 32:  # the usual answer: plain floats beat NumPy's per-call overhead
            hits = hits.tolist() if isinstance(hits, np.ndarray) else hits
            ids = [self._ids[i] for i in hits]
            rlon, rlat = math.radians(lon), math.radians(lat)
            coslat, sin, rlons, rlats, coslats = math.cos(rlat), math.sin, self._rlons, self._rlats, self._coslats
            metres = []
            for i in hits:  # haversine_m, term by term, with the stations' parts precomputed
                h = sin((rlats[i] - rlat) / 2) ** 2 + coslat * coslats[i] * sin((rlons[i] - rlon) / 2) ** 2
                metres.append(2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(h, 0.0), 1.0))))
            keys = [(round(m, 3), i) for m, i in zip(metres, ids)]
            order = range(len(hits))
            if any(keys[j] > keys[j + 1] for j in range(len(keys) - 1)):  # rare: ties, chords
                order = sorted(order, key=keys.__getitem__)
        else:
            metres = haversine_m(lon, lat, self.lons[hits], self.lats[hits]).tolist()
            ids = self.ids[hits].tolist()
            order = np.lexsort((self.ids[hits], np.round(metres, 3))).tolist()
        out = []
        for j in order:
            if radius_m is not None and metres[j] > radius_m:
                continue
            i = hits[j]
            out.append(Hit(ids[j], metres[j], self._open_state(i, at, memo),
                           self.stations[i] if self.stations is not None else None))
            if len(out) == k:
                break
        return out


def _hours_or_none(text):
    if not text:
        return None
    try:
        return parse_hours(text)
    except HoursError:
        return None


def brute_force_nearest(stations, lon, lat, k=5, *, radius_m=None, status="active",
                        facilities=(), open_now=False, only_24h=False, at=None):
    """The same answer as NearestIndex.query by measuring every station (tests, benchmarks).

    Returns a list of (station, distance in metres rounded to the millimetre).
    """
    at = at or datetime.now(TZ)
    stations = list(stations)
    if not stations:
        return []
    metres = haversine_m(lon, lat, [s["lon"] for s in stations], [s["lat"] for s in stations])
    order = sorted(range(len(stations)), key=lambda i: (round(float(metres[i]), 3), stations[i]["id"]))
    out = []
    for i in order:
        s, d = stations[i], round(float(metres[i]), 3)
        if radius_m is not None and metres[i] > radius_m:
            break
        if status and s["status"] != status:
            continue
        if facilities and not set(facilities) <= set(s.get("facilities") or ()):
            continue
        hours = parse_hours(s["hours"]) if s.get("hours") else None
        if only_24h and not (hours and hours.is_24h):
            continue
        if open_now and not (hours and s["status"] == "active" and hours.is_open(at)):
            continue
        out.append((s, d))
        if len(out) == k:
            break
    return out


_CACHE: dict = {}
_LOCK = threading.Lock()


def index_for(db, key: str = "default") -> NearestIndex:
    """The process's index for this database, rebuilt when any station has changed."""
    version = data_version(db)
    cached = _CACHE.get(key)
    if cached and cached[0] == version:
        return cached[1]
    with _LOCK:
        cached = _CACHE.get(key)
        if cached and cached[0] == version:
            return cached[1]
        index = NearestIndex(station_index_rows(db), keep_rows=False)
        _CACHE[key] = (version, index)
        return index
