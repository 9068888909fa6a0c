"""The nearest-station benchmark's datasets and reference: constants, small helpers,
the synthetic databases (stored as ``yizhan demo`` stores them) and a NumPy brute-force
scan the index is checked against.  Used by scripts/bench/nearest.py."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from geodata.districts import region_bounds  # noqa: E402
from stations import storage  # noqa: E402
from stations.hours import HoursError, parse_hours  # noqa: E402
from stations.registry.demo import generate_stations, load_demo  # noqa: E402
from stations.riders.nearest import EARTH_RADIUS_M, haversine_m  # noqa: E402
from stations.storage import TZ  # noqa: E402

DATASETS = [  # (label, region, stations, seed)
    ("beijing-30k", "beijing", 30_000, 2021),
    ("china-200k", "china", 200_000, 2021),
]
K = 5
AT = datetime(2025, 11, 24, 21, 30, tzinfo=TZ)  # a Monday evening: many stations closed
FILTER_FACILITIES = ("microwave", "charging")
POINT_SEED = 20251124
PYTHON = sys.executable


# --- small helpers ---------------------------------------------------------------

def log(msg=""):
    print(msg, flush=True)


def pct(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mib(n_bytes):
    return n_bytes / 1024 / 1024


def rss_bytes(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def random_points(region, n, seed=POINT_SEED):
    minlon, minlat, maxlon, maxlat = region_bounds(region)
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(minlon, maxlon, n), rng.uniform(minlat, maxlat, n)])


def build_db(path, region, n, seed):
    """The dataset in a fresh SQLite file, stored the way ``yizhan demo`` stores it."""
    t0 = time.perf_counter()
    records = generate_stations(n, seed=seed, region=region)
    t1 = time.perf_counter()
    db = storage.connect(path)
    storage.migrate(db)
    written = load_demo(db, records)
    t2 = time.perf_counter()
    db.conn.close()
    return written, t1 - t0, t2 - t1


def stored_stations(db):
    """What index_for indexes: the narrow rows of every stored station except pending ones."""
    return storage.station_index_rows(db)


# --- brute force -------------------------------------------------------------------------

class VectorScan:
    """Brute force with NumPy: the haversine term of every station, per query.

    Filters are whole-array masks (status, facilities, and open-now from each distinct
    timetable evaluated once per query).  The k smallest by haversine term are picked
    with np.partition; candidates within 2 mm of the k-th are then measured with the
    app's haversine_m and ordered by (distance rounded to mm, id) exactly as the index
    orders its answers.
    """

    def __init__(self, stations):
        self.ids = np.array([s["id"] for s in stations], dtype=np.int64)
        self.lons = np.array([s["lon"] for s in stations], dtype=float)
        self.lats = np.array([s["lat"] for s in stations], dtype=float)
        self.rlon = np.radians(self.lons)
        self.rlat = np.radians(self.lats)
        self.coslat = np.cos(self.rlat)
        self.active = np.array([s["status"] == "active" for s in stations])
        self.facilities = [set(s.get("facilities") or ()) for s in stations]
        texts = sorted({s.get("hours") for s in stations if s.get("hours")})
        self.timetables = []
        for text in texts:
            try:
                self.timetables.append(parse_hours(text))
            except HoursError:
                self.timetables.append(None)
        code = {t: i for i, t in enumerate(texts)}
        self.hours_code = np.array([code.get(s.get("hours"), -1) for s in stations], dtype=np.int64)
        self._fac_cache = {}

    def _facility_ok(self, facilities):
        key = tuple(sorted(facilities))
        if key not in self._fac_cache:
            want = set(key)
            self._fac_cache[key] = np.array([want <= f for f in self.facilities])
        return self._fac_cache[key]

    def query(self, lon, lat, k=K, *, facilities=(), open_now=False, at=AT):
        ok = self.active.copy()
        if facilities:
            ok &= self._facility_ok(facilities)
        if open_now:
            open_by_code = np.array([bool(t is not None and t.is_open(at))
                                     for t in self.timetables] + [False])
            ok &= open_by_code[self.hours_code]  # code -1 -> the trailing False
        rlon0, rlat0 = np.radians(lon), np.radians(lat)
        h = (np.sin((self.rlat - rlat0) / 2) ** 2
             + np.cos(rlat0) * self.coslat * np.sin((self.rlon - rlon0) / 2) ** 2)
        h[~ok] = np.inf
        n_ok = int(ok.sum())
        if n_ok == 0:
            return []
        if n_ok > k:
            kth = np.partition(h, k - 1)[k - 1]
            dk = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(min(max(kth, 0.0), 1.0)))
            limit = np.sin(min((dk + 0.002) / (2 * EARTH_RADIUS_M), np.pi / 2)) ** 2
            cand = np.flatnonzero(h <= limit)
        else:
            cand = np.flatnonzero(ok)
        metres = haversine_m(lon, lat, self.lons[cand], self.lats[cand])
        order = np.lexsort((self.ids[cand], np.round(metres, 3)))[:k]
        return [int(self.ids[cand[j]]) for j in order]
