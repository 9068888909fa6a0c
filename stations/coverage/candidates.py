"""Candidate sites uploaded on /plan: checked like ``yizhan suggest --candidates FILE``,
then kept as a small file beside the database so the page, its map and its downloads
(separate requests) all weigh the same candidates.

A set is named by a random key in the page's query string (``candidates=…``); the key
is checked before it becomes a file name.  Sets older than KEEP_DAYS are removed when
a new one is saved.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import numpy as np

from .demand import PointsReport, read_points
from .grid import CoverageError
from .suggest import MAX_CANDIDATES

__all__ = ["KEEP_DAYS", "candidates_dir", "read_candidates", "save_candidates", "load_candidates"]

KEEP_DAYS = 7
_KEY = re.compile(r"^[0-9a-f]{16}$")


def candidates_dir(db_path) -> Path:
    """``plan_candidates/`` beside the database file."""
    return Path(db_path).resolve().parent / "plan_candidates"


def read_candidates(data: bytes, filename: str, *, datum="wgs84", region="beijing") -> PointsReport:
    """Read and check a candidates file (CSV, XLSX or GeoJSON of points, optional names):
    the same reader and row-by-row checks as the CLI's ``--candidates``, and the
    candidate limit stated at once rather than when suggesting."""
    report = read_points(data, filename, datum=datum, region=region)
    if report.ok and len(report.lons) > MAX_CANDIDATES:
        report.file_errors.append(f"候选点过多（{len(report.lons):,} 个，上限 {MAX_CANDIDATES:,}）")
    return report


def save_candidates(folder: Path, report: PointsReport) -> str:
    """Keep a checked set; returns its key."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_DAYS * 86400
    for old in folder.glob("*.json"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another worker removed it first
    key = secrets.token_hex(8)
    document = {"filename": report.filename, "datum": report.datum, "lons": report.lons.tolist(),
                "lats": report.lats.tolist(), "names": report.names,
                "ignored_columns": list(report.ignored_columns or [])}
    path = folder / f"{key}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)  # a reader never sees half a file
    return key


def load_candidates(folder: Path, key: str) -> dict:
    """{"lons", "lats" (WGS-84 arrays), "names", "filename", "count", "ignored_columns"} of a kept set, or
    CoverageError('candidates', …) when the key is malformed or the set is gone."""
    key = (key or "").strip()
    path = folder / f"{key}.json"
    if not _KEY.match(key) or not path.is_file():
        raise CoverageError("candidates", "候选点文件不存在或已过期（保留 "
                            f"{KEEP_DAYS} 天），请重新上传；或去掉候选点改用网格")
    document = json.loads(path.read_text(encoding="utf-8"))
    lons, lats = np.array(document["lons"], dtype=float), np.array(document["lats"], dtype=float)
    return {"lons": lons, "lats": lats, "names": document["names"], "filename": document["filename"],
            "count": len(lons), "key": key, "ignored_columns": document.get("ignored_columns", [])}
