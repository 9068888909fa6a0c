"""The /plan page's work, in stages, and as a background job when it is long.

``plan_results`` does what the page shows (figures, gaps, suggestions, criticality,
what-if, optionally the map), calling ``progress(stage)`` before each stage.  A small
request runs it inside the web request; a large one (an estimated grid above a
setting) runs it in a process of its own, started detached the way import jobs are
(``stations.jobs.start_detached``), so no web worker (gevent or not) computes for long
or holds a thread.  Uploads of demand layers and candidate sites are jobs too
(``stations.coverage.uploads``).  Every job takes its turn in ``stations.plan_queue``
(a bounded number at once, one per user).  The job writes its status — the stage it
is in — to a small JSON file after each stage, then its results (and map) beside it;
the page reads the status until the results are there.  Files live in ``plan_jobs/``
beside the database and are removed after a day.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import sys
import time
import traceback
from pathlib import Path

from .. import plan_queue as queue
from ..plan_queue import AlreadyQueued, jobs_dir
from .candidates import candidates_dir, load_candidates
from .grid import PARAMETER_LABELS, CoverageError

__all__ = ["STAGES", "KIND_STAGES", "KEEP_HOURS", "AlreadyQueued", "jobs_dir", "estimated_cells", "plan_results",
           "gaps_and_suggestions", "gaps_for", "suggestions_for", "suggestion_answer", "tie_layer", "submit_job", "start_plan_job",
           "job_status", "job_result", "job_request", "job_map_path", "job_file", "begin_job", "run_plan_job"]

STAGES = [("grid", "划分网格，统计每个格子在几个站点的服务圈内"), ("figures", "计算各区覆盖指标"),
          ("gaps", "找出需求缺口"), ("suggest", "选址：建议新站点"), ("criticality", "找出关键站点"),
          ("whatif", "假设分析"), ("map", "绘制覆盖地图")]
KIND_STAGES = {"plan": STAGES,
               "demand": [("read", "读取并逐行检查文件"), ("store", "保存需求图层")],
               "candidates": [("read", "读取并逐行检查文件"), ("store", "保存候选点")],
               "network": [("read", "读取道路数据（.osm.pbf）"), ("build", "建立步行和电动自行车道路网络"),
                           ("store", "保存道路网络")]}
KEEP_HOURS = 24
_START_GRACE_S = 120  # a queued job whose process never started is failed after this
_KEY = re.compile(r"^[0-9a-f]{16}$")


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


def gaps_and_suggestions(args, coverage, candidates_folder: Path, db=None):
    """Gaps and suggested sites for a request's arguments (the page, its map and downloads)."""
    return gaps_for(args, coverage), suggestions_for(args, coverage, candidates_folder, db)


def gaps_for(args, coverage, every: bool = False) -> list:
    """The gap hexagons the page shows (``gap_limit``, 100 by default), or ``every`` one
    (the downloads)."""
    from .gaps import MAX_HEXAGONS, gap_hexagons

    resolution = _int_arg(args, "resolution", 8, 5, 10)
    limit = _int_arg(args, "gap_limit", 100, 1, 2000)
    return gap_hexagons(coverage, resolution, kind=args.get("kind") or "uncovered",
                        limit=MAX_HEXAGONS if every else limit)


def suggestions_for(args, coverage, candidates_folder: Path, db=None) -> list:
    """The suggested sites (rows) for a request's arguments."""
    return suggestion_answer(args, coverage, candidates_folder, db)["sites"]


def tie_layer(db, args, coverage) -> str:
    """Under uniform demand, the demand layer whose points break ties between equally good
    candidates: ``near`` when given ("" or ``stations``: the stations), else the newest
    layer; "" when there is none (or a layer is chosen: its own points decide)."""
    if not coverage.uniform or db is None:
        return ""
    from .demand import list_layers

    asked = args.get("near")
    if asked is not None:
        return "" if asked in ("", "stations") else str(asked)
    layers = list_layers(db)
    return layers[0]["name"] if layers else ""


def suggestion_answer(args, coverage, candidates_folder: Path, db=None) -> dict:
    """``suggest_sites``' whole answer for a request's arguments (no sites when p is 0);
    ``near`` says where ties went (a layer's name, or "" for the stations)."""
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
    layer = tie_layer(db, args, coverage)
    near = None
    if layer:
        from .demand import load_layer_points

        chosen_layer = load_layer_points(db, layer)
        near = (chosen_layer.lons, chosen_layer.lats)
    if not p:
        return {"sites": [], "asked": 0, "near": layer}
    return {**suggest_sites(coverage, p, double=args.get("double") == "1", spacing_m=spacing,
                            candidates=points, names=names, near=near), "near": layer}


def plan_results(db, args, region: str, *, candidates_folder: Path, progress=None, map_options=None) -> dict:
    """Everything the page shows for a request's arguments (a mapping with ``get`` and
    ``getlist``), stage by stage; ``map_options`` (tiles, static_url, api_url) adds the
    map's HTML as ``map_html``.  CoverageError names a bad parameter."""
    from .planner import criticality_rows, figures_answer, parse_params, parse_whatif, run, whatif
    from .suggest import shortfall_note

    progress = progress or (lambda stage: None)
    params = parse_params(args)
    close, add = parse_whatif(args)
    progress("grid")
    coverage = run(db, params, region)
    progress("figures")
    answer = figures_answer(db, params, region, coverage)
    progress("gaps")
    gaps_all = gaps_for(args, coverage, every=map_options is not None)  # a job keeps every gap for downloads
    gaps = gaps_all[:_int_arg(args, "gap_limit", 100, 1, 2000)]
    progress("suggest")
    suggested = suggestion_answer(args, coverage, candidates_folder, db)
    suggestions = suggested["sites"]
    progress("criticality")
    out = {"answer": answer, "gaps": gaps, "suggestions": suggestions, "criticality": criticality_rows(coverage, region, 50),
           "suggest_note": shortfall_note(suggested, "（km²）" if coverage.uniform else "（权重）"),
           "suggest_near": suggested.get("near", "")}
    if coverage.along:  # along the streets: how much the circles would overstate, district by district
        from dataclasses import replace

        from .network import overstatement

        out["overstate"] = overstatement(run(db, replace(params, network=""), region, distances=False), coverage)
    if map_options is not None:
        out["criticality_all"] = criticality_rows(coverage, region, 10_000)  # the download's rows
        out["gaps_all"] = gaps_all
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


def job_file(db_path, key: str, suffix: str) -> Path:
    """A file of job ``key`` (``upload``, ``request.json``…); KeyError for a malformed key."""
    return _path(jobs_dir(db_path), key, suffix)


_write, _read = queue.write_json, queue.read_json


def _forget_old(folder: Path) -> None:
    cutoff = time.time() - KEEP_HOURS * 3600
    for old in folder.iterdir():
        if old.name.startswith("queue."):
            continue  # the queue's lock and list stay (removing a lock file breaks the lock)
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another worker removed it first


def submit_job(db_path, kind: str, request: dict, *, username=None, at_once: int = 2, launch=None,
               files=None) -> str:
    """Queue a job of ``kind`` (``plan``, ``demand``, ``candidates``) and start its process,
    which waits for its turn; returns the job's key.  ``files(path_for)`` writes the job's
    own files first (an upload: ``path_for("upload")``).  AlreadyQueued when ``username``
    has a job queued or running (nothing is kept).  Old jobs' files are removed first."""
    from ..jobs import start_detached

    folder = jobs_dir(db_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _forget_old(folder)
    mine = queue.queued_for(folder, username, grace_s=_START_GRACE_S)
    if mine is not None:  # before saving an upload that would be refused
        raise AlreadyQueued(mine, "")
    key = secrets.token_hex(8)
    try:
        if files is not None:
            files(lambda suffix: _path(folder, key, suffix))
        _write(_path(folder, key, "request.json"), {**request, "kind": kind, "user": username})
        _write(_path(folder, key, "status.json"), {"state": "queued", "stage": None, "kind": kind,
                                                   "queued_at": time.time()})
        queue.enqueue(folder, key, kind=kind, db_path=db_path, user=username, at_once=at_once,
                      grace_s=_START_GRACE_S)
    except BaseException:
        for path in folder.glob(f"{key}.*"):
            path.unlink(missing_ok=True)
        raise
    command = [sys.executable, "-m", "stations.plan_queue", str(Path(db_path).resolve()), key]
    (launch or start_detached)(command, _path(folder, key, "log"))
    return key


def start_plan_job(db_path, args: list, region: str, map_options: dict, launch=None, *, username=None,
                   at_once: int = 2) -> str:
    """Queue the page's work for these arguments (a list of (name, value) pairs) and start
    its process; returns the job's key (see ``submit_job``)."""
    return submit_job(db_path, "plan", {"args": [list(pair) for pair in args], "region": region,
                                        "map": map_options}, username=username, at_once=at_once, launch=launch)


def job_status(db_path, key: str) -> dict | None:
    """{"state": queued|running|done|failed, "kind", "stage", "stage_name", "step", "steps",
    "message", and while queued "ahead" (jobs before it) and "at_once"} for a job, or None
    when there is no such job.  A job whose process has died (killed, out of memory) is
    reported failed, and its place in the queue is freed."""
    folder = jobs_dir(db_path)
    try:
        path = _path(folder, key, "status.json")
    except KeyError:
        return None
    if not path.is_file():
        return None
    spot = queue.place(folder, key, grace_s=_START_GRACE_S)  # drops dead jobs, marking them failed
    status = _read(path)
    if status is None:
        return None
    kind = status.get("kind", "plan")
    state = status.get("state")
    if state == "running" and not queue.alive(status.get("pid")):
        status = _failed(folder, key, status, queue.failure(kind, "died"))
    elif state == "queued" and spot is None:
        status = _failed(folder, key, status, "任务已不在队列中，请重试")
    elif state == "queued":
        status.update(ahead=spot["ahead"], at_once=spot["at_once"])
    stages = KIND_STAGES.get(kind, STAGES)
    stage = status.get("stage")
    keys = [k for k, _ in stages]
    status["kind"] = kind
    status["stage_name"] = dict(stages).get(stage, "排队等待开始")
    status["step"] = keys.index(stage) + 1 if stage in keys else 0
    status["steps"] = len(stages)
    status["stages"] = [{"key": k, "name": n, "done": status["state"] == "done" or (
        stage in keys and keys.index(k) < keys.index(stage)), "current": k == stage and status["state"] == "running"}
        for k, n in stages]
    status["finished"] = status["state"] in ("done", "failed")
    return status


def _failed(folder: Path, key: str, status: dict, message: str) -> dict:
    """Record that a job ended without its process saying so, and free its place."""
    status = {**status, "state": "failed", "message": message, "finished_at": time.time()}
    _write(_path(folder, key, "status.json"), status)
    queue.leave(folder, key)
    return status


def job_result(db_path, key: str) -> dict | None:
    """The results of a finished job (its ``kind`` and the request it ran with), or None."""
    folder = jobs_dir(db_path)
    try:
        result = _read(_path(folder, key, "result.json"))
        request = _read(_path(folder, key, "request.json"))
    except KeyError:
        return None
    if result is None or request is None:
        return None
    kind = request.get("kind", "plan")
    if kind == "plan":
        return {**result, "kind": kind, "args": [tuple(pair) for pair in request["args"]]}
    return {**result, "kind": kind, "request": request}


def job_request(db_path, key: str) -> dict | None:
    """What job ``key`` was asked to do (its kind, user and parameters), or None."""
    try:
        return _read(_path(jobs_dir(db_path), key, "request.json"))
    except KeyError:
        return None


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


def begin_job(db_path, key: str):
    """(request, progress, finish) for job ``key`` about to run, or None when it is not
    queued (it ran already, failed or is gone).  ``progress(stage)`` records the stage it
    is in (and this process's pid, by which a death is noticed); ``finish(state,
    **fields)`` its end, with the seconds it took."""
    folder = jobs_dir(db_path)
    request = _read(_path(folder, key, "request.json"))
    status_path = _path(folder, key, "status.json")
    status = _read(status_path) or {}
    if request is None or status.get("state") != "queued":
        return None
    kind, started = request.get("kind", "plan"), time.time()

    def progress(stage):
        _write(status_path, {"state": "running", "kind": kind, "stage": stage, "pid": os.getpid(),
                             "started_at": started, "updated_at": time.time()})

    def finish(state, **fields):
        now = time.time()
        _write(status_path, {"state": state, "kind": kind, "stage": None, **fields, "started_at": started,
                             "finished_at": now, "seconds": round(now - started, 1)})

    return request, progress, finish


def run_plan_job(db_path, key: str) -> str:
    """Run one queued job to its end; returns its final state."""
    from .. import storage

    begun = begin_job(db_path, key)
    if begun is None:
        return (_read(_path(jobs_dir(db_path), key, "status.json")) or {}).get("state", "missing")
    request, progress, finish = begun
    progress("grid")
    db = storage.connect(db_path)
    try:
        results = plan_results(db, _Args(request["args"]), request["region"],
                               candidates_folder=candidates_dir(db_path), progress=progress,
                               map_options=request["map"])
        _path(jobs_dir(db_path), key, "map.html").write_text(results.pop("map_html"), encoding="utf-8")
        _write(_path(jobs_dir(db_path), key, "result.json"), results)
        final = {"state": "done"}
    except CoverageError as exc:
        final = {"state": "failed", "message": exc.text, "parameter": exc.parameter}
    except Exception:
        traceback.print_exc()
        final = {"state": "failed", "message": "计算时出现内部错误，已记录，请联系管理员"}
    finally:
        db.conn.close()
    finish(**final)
    return final["state"]
