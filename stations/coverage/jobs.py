"""The /plan page's work, in stages, and as a background job when it is long.

``plan_results`` does what the page shows (figures, gaps, suggestions, criticality,
what-if, optionally the map), calling ``progress(stage)`` before each stage.  A small
request runs it inside the web request; a large one (an estimated grid above a
setting) runs it in a process of its own, started detached the way import jobs are
(``stations.jobs.start_detached``), so no web worker (gevent or not) computes for long
or holds a thread.  The job writes its status — the stage it is in — to a small JSON
file after each stage, then its results and map beside it; the page reads the status
until the results are there.  Files live in ``plan_jobs/`` beside the database and are
removed after a day.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import sys
import time
import traceback
from pathlib import Path

from .candidates import candidates_dir, load_candidates
from .grid import PARAMETER_LABELS, CoverageError

__all__ = ["STAGES", "KEEP_HOURS", "jobs_dir", "estimated_cells", "plan_results", "gaps_and_suggestions",
           "gaps_for", "suggestions_for", "start_plan_job",
           "job_status", "job_result", "job_map_path", "run_plan_job", "main"]

STAGES = [("grid", "划分网格，统计每个格子在几个站点的服务圈内"), ("figures", "计算各区覆盖指标"),
          ("gaps", "找出需求缺口"), ("suggest", "选址：建议新站点"), ("criticality", "找出关键站点"),
          ("whatif", "假设分析"), ("map", "绘制覆盖地图")]
STAGE_NAMES = dict(STAGES)
KEEP_HOURS = 24
_START_GRACE_S = 120  # a queued job whose process never started is failed after this
_KEY = re.compile(r"^[0-9a-f]{16}$")


def jobs_dir(db_path) -> Path:
    """``plan_jobs/`` beside the database file."""
    return Path(db_path).resolve().parent / "plan_jobs"


def estimated_cells(region: str, districts, cell_m: float) -> int:
    """Cells of the grid for these districts (all when none), from their bounding box:
    what decides whether the page runs in the background (the grid itself is the work)."""
    from geodata.districts import load_districts

    frame = load_districts(region)
    if districts:
        frame = frame[frame["name"].isin(list(districts))]
    if not len(frame) or not cell_m or cell_m <= 0:
        return 0
    minlon, minlat, maxlon, maxlat = frame.total_bounds
    width = (maxlon - minlon) * 111_320 * math.cos(math.radians((minlat + maxlat) / 2))
    height = (maxlat - minlat) * 110_574
    return int(math.ceil(width / cell_m) * math.ceil(height / cell_m))


# --- the work -----------------------------------------------------------------------------

def _int_arg(args, name, default, low, high):
    raw = str(args.get(name) or "")
    if raw.strip() == "":
        return default
    label = PARAMETER_LABELS.get(name, name)
    try:
        value = int(raw)
    except ValueError:
        raise CoverageError(name, f"{label}“{raw}”不是整数") from None
    if not low <= value <= high:
        raise CoverageError(name, f"{label} {value} 超出范围 {low}–{high}")
    return value


def gaps_and_suggestions(args, coverage, candidates_folder: Path):
    """Gaps and suggested sites for a request's arguments (the page, its map and downloads)."""
    return gaps_for(args, coverage), suggestions_for(args, coverage, candidates_folder)


def gaps_for(args, coverage) -> list:
    from .gaps import gap_hexagons

    resolution = _int_arg(args, "resolution", 8, 5, 10)
    return gap_hexagons(coverage, resolution, kind=args.get("kind") or "uncovered",
                        limit=_int_arg(args, "gap_limit", 100, 1, 2000))


def suggestions_for(args, coverage, candidates_folder: Path) -> list:
    from .suggest import suggest_sites

    p = _int_arg(args, "p", 10, 0, 500)
    try:
        spacing = float(args.get("spacing_m") or 1000)
    except ValueError:
        raise CoverageError("spacing_m", "候选点间距应为数字") from None
    points = names = None
    if args.get("candidates"):  # an uploaded set (else a grid of spacing_m)
        chosen = load_candidates(candidates_folder, args.get("candidates"))
        points, names = (chosen["lons"], chosen["lats"]), chosen["names"]
    return suggest_sites(coverage, p, double=args.get("double") == "1", spacing_m=spacing,
                         candidates=points, names=names)["sites"] if p else []


def plan_results(db, args, region: str, *, candidates_folder: Path, progress=None, map_options=None) -> dict:
    """Everything the page shows for a request's arguments (a mapping with ``get`` and
    ``getlist``), stage by stage; ``map_options`` (tiles, static_url, api_url) adds the
    map's HTML as ``map_html``.  CoverageError names a bad parameter."""
    from .planner import figures_answer, parse_params, parse_whatif, run, whatif

    progress = progress or (lambda stage: None)
    params = parse_params(args)
    close, add = parse_whatif(args)
    progress("grid")
    coverage = run(db, params, region)
    progress("figures")
    answer = figures_answer(db, params, region, coverage)
    progress("gaps")
    gaps = gaps_for(args, coverage)
    progress("suggest")
    suggestions = suggestions_for(args, coverage, candidates_folder)
    progress("criticality")
    out = {"answer": answer, "gaps": gaps, "suggestions": suggestions, "criticality": coverage.criticality(50)}
    if map_options is not None:
        out["criticality_all"] = coverage.criticality(10_000)  # the download's rows
    progress("whatif")
    out["whatif"] = whatif(db, params, region, close, add, coverage) if close or add else None
    if map_options is not None:
        from .maps import plan_map_html

        progress("map")
        out["map_html"] = plan_map_html(coverage, tiles=map_options["tiles"], gaps=gaps, suggestions=suggestions,
                                        demand_label=params.demand, static_url=map_options["static_url"],
                                        api_url=map_options["api_url"], viewport=region == "china")
    return out


# --- jobs -----------------------------------------------------------------------------------

def _path(folder: Path, key: str, suffix: str) -> Path:
    if not _KEY.match(key or ""):
        raise KeyError(key)
    return folder / f"{key}.{suffix}"


def _write(path: Path, data) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    partial.replace(path)  # a reader never sees half a file


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def start_plan_job(db_path, args: list, region: str, map_options: dict, launch=None) -> str:
    """Queue the page's work for these arguments (a list of (name, value) pairs) and start
    its process; returns the job's key.  Old jobs' files are removed first."""
    from ..jobs import start_detached

    folder = jobs_dir(db_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_HOURS * 3600
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another worker removed it first
    key = secrets.token_hex(8)
    _write(_path(folder, key, "request.json"), {"args": [list(pair) for pair in args], "region": region,
                                                "map": map_options})
    _write(_path(folder, key, "status.json"), {"state": "queued", "stage": None, "queued_at": time.time()})
    command = [sys.executable, "-m", "stations.coverage.jobs", str(Path(db_path).resolve()), key]
    (launch or start_detached)(command, _path(folder, key, "log"))
    return key


def job_status(db_path, key: str) -> dict | None:
    """{"state": queued|running|done|failed, "stage", "stage_name", "step", "steps",
    "message"} for a job, or None when there is no such job.  A job whose process has
    died (killed, out of memory) is reported failed."""
    folder = jobs_dir(db_path)
    try:
        status = _read(_path(folder, key, "status.json"))
    except KeyError:
        return None
    if status is None:
        return None
    state = status.get("state")
    if state == "running" and not _alive(status.get("pid")):
        status = {**status, "state": "failed", "message": "计算进程意外结束（可能内存不足或被终止），请重试"}
    elif state == "queued" and time.time() - status.get("queued_at", 0) > _START_GRACE_S:
        status = {**status, "state": "failed", "message": "计算进程没有启动，请重试"}
    stage = status.get("stage")
    keys = [k for k, _ in STAGES]
    status["stage_name"] = STAGE_NAMES.get(stage, "排队等待开始")
    status["step"] = keys.index(stage) + 1 if stage in keys else 0
    status["steps"] = len(STAGES)
    status["stages"] = [{"key": k, "name": n, "done": status["state"] == "done" or (
        stage in keys and keys.index(k) < keys.index(stage)), "current": k == stage and status["state"] == "running"}
        for k, n in STAGES]
    status["finished"] = status["state"] in ("done", "failed")
    return status


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_result(db_path, key: str) -> dict | None:
    """The results of a finished job (and the arguments it ran with), or None."""
    folder = jobs_dir(db_path)
    try:
        result = _read(_path(folder, key, "result.json"))
        request = _read(_path(folder, key, "request.json"))
    except KeyError:
        return None
    if result is None or request is None:
        return None
    return {**result, "args": [tuple(pair) for pair in request["args"]]}


def job_map_path(db_path, key: str) -> Path | None:
    try:
        path = _path(jobs_dir(db_path), key, "map.html")
    except KeyError:
        return None
    return path if path.is_file() else None


class _Args:
    """A list of (name, value) pairs as the mapping ``parse_params`` reads."""

    def __init__(self, pairs):
        self.pairs = [(str(k), str(v)) for k, v in pairs]

    def get(self, name, default=None):
        return next((v for k, v in self.pairs if k == name), default)

    def getlist(self, name):
        return [v for k, v in self.pairs if k == name]


def run_plan_job(db_path, key: str) -> str:
    """Run one queued job to its end; returns its final state."""
    from .. import storage

    folder = jobs_dir(db_path)
    request = _read(_path(folder, key, "request.json"))
    status_path = _path(folder, key, "status.json")
    status = _read(status_path) or {}
    if request is None or status.get("state") != "queued":
        return status.get("state", "missing")
    started = time.time()

    def progress(stage):
        _write(status_path, {"state": "running", "stage": stage, "pid": os.getpid(), "started_at": started,
                             "updated_at": time.time()})

    progress("grid")
    db = storage.connect(db_path)
    try:
        results = plan_results(db, _Args(request["args"]), request["region"],
                               candidates_folder=candidates_dir(db_path), progress=progress,
                               map_options=request["map"])
        _path(folder, key, "map.html").write_text(results.pop("map_html"), encoding="utf-8")
        _write(_path(folder, key, "result.json"), results)
        final = {"state": "done", "stage": None}
    except CoverageError as exc:
        final = {"state": "failed", "message": exc.text, "parameter": exc.parameter}
    except Exception:
        traceback.print_exc()
        final = {"state": "failed", "message": "计算时出现内部错误，已记录，请联系管理员"}
    finally:
        db.conn.close()
    _write(status_path, {**final, "started_at": started, "finished_at": time.time(),
                         "seconds": round(time.time() - started, 1)})
    return final["state"]


def main(argv=None) -> int:
    """``python -m stations.coverage.jobs DB KEY``: run one /plan job."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m stations.coverage.jobs DB KEY", file=sys.stderr)
        return 2
    return 0 if run_plan_job(args[0], args[1]) == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
