"""Uploads on /plan — a demand layer, a candidates file — read in a background job.

Reading and checking a 500,000-row file takes seconds of CPU (an XLSX of empty cells can
take as long), so the web worker only saves the upload beside the job's other files in
``plan_jobs/`` and queues a job (``jobs.submit_job``: it waits its turn with the page's
other background work, one per user).  The job reads and checks the file with the same
functions as the command line (``demand.import_layer``, ``candidates.read_candidates``)
and leaves the outcome in ``<key>.result.json`` for the job's page: the layer stored, or
the report naming every bad row (all or nothing, as before); the candidate set's key.
The upload is removed when the job ends.
"""

from __future__ import annotations

import traceback

from ..plan_queue import read_json as _read
from ..plan_queue import write_json as _write
from .candidates import candidates_dir, read_candidates, save_candidates
from .demand import check_new_name, format_layer_report, import_layer
from .grid import CoverageError
from .jobs import begin_job, job_file, submit_job

__all__ = ["start_demand_upload", "start_candidates_upload", "start_network_upload", "run_upload_job"]

_BUSY_TIMEOUT_MS = 120_000  # the job may wait its turn for the write lock (an import may hold it)


def _saved(save):
    def files(path_for):
        path = path_for("upload")
        save(path)
        path.chmod(0o600)
    return files


def start_demand_upload(db, db_path, name, save, filename: str, *, datum: str, region: str, username=None,
                        at_once: int = 2, launch=None, query: list = ()) -> str:
    """Queue reading an uploaded demand layer; returns the job's key.

    The name is checked first (CoverageError('name') for a bad or taken one: nothing is
    saved); then ``save(path)`` writes the upload and the job is queued (AlreadyQueued
    when ``username`` has a job queued or running).  ``query`` (the page's settings) is
    handed back with the outcome.
    """
    name = check_new_name(db, name)
    return submit_job(db_path, "demand", {"name": name, "filename": str(filename)[:200], "datum": datum,
                                          "region": region, "query": [list(pair) for pair in query]},
                      username=username, at_once=at_once, launch=launch, files=_saved(save))


def start_candidates_upload(db_path, save, filename: str, *, datum: str, region: str, query: list,
                            username=None, at_once: int = 2, launch=None) -> str:
    """Queue reading an uploaded candidates file; ``query`` (the page's settings as
    (name, value) pairs) is handed back with the outcome.  Returns the job's key."""
    return submit_job(db_path, "candidates", {"filename": str(filename)[:200], "datum": datum, "region": region,
                                              "query": [list(pair) for pair in query]},
                      username=username, at_once=at_once, launch=launch, files=_saved(save))


def start_network_upload(db_path, name, save, filename: str, *, username=None, at_once: int = 2,
                         launch=None) -> str:
    """Queue building a street network from an uploaded .osm.pbf; returns the job's key.

    The name is checked first (CoverageError('network') for a blank or taken one: nothing
    is saved); the extract is read in the job, never in a web worker."""
    from ..networks import NetworkError, networks_dir
    from ..networks.store import check_name

    try:
        name = check_name(networks_dir(db_path), name)
    except NetworkError as exc:
        raise CoverageError("network", exc.message) from None
    return submit_job(db_path, "network", {"name": name, "filename": str(filename)[:200]},
                      username=username, at_once=at_once, launch=launch, files=_saved(save))


def _network(db_path, request, upload, progress) -> dict:
    from ..networks import NetworkError, import_network, networks_dir

    stage = {1: "build", 3: "store"}

    def step(done, total):
        if done in stage:
            progress(stage[done])

    name = request["name"]
    try:
        meta = import_network(networks_dir(db_path), upload, name, filename=request["filename"], progress=step)
    except NetworkError as exc:
        return {"ok": False, "name": name, "message": exc.message, "text": exc.message}
    text = "，".join(f"{'步行' if m == 'walk' else '电动自行车'} {meta['segments'][m]:,} 段" for m in meta["modes"])
    return {"ok": True, "name": name, "message": None,
            "text": f"已导入道路网络“{name}”：{text}；范围约 {meta['extent_km2']:g} 平方公里。"}


def run_upload_job(db_path, key: str) -> str:
    """Read one queued upload to its end; returns the job's final state ("done": the layer
    is stored or the candidates kept; "failed": the file was refused, the report says why)."""
    from .. import storage

    begun = begin_job(db_path, key)
    if begun is None:
        return (_read(job_file(db_path, key, "status.json")) or {}).get("state", "missing")
    request, progress, finish = begun
    upload = job_file(db_path, key, "upload")
    progress("read")
    try:
        if request["kind"] == "network":  # read from the file: an extract can be large
            if not upload.is_file():
                raise FileNotFoundError(upload)
            result = _network(db_path, request, upload, progress)
        else:
            data = upload.read_bytes()
            read = _demand if request["kind"] == "demand" else _candidates
            result = read(db_path, request, data, progress)
        _write(job_file(db_path, key, "result.json"), result)
        state, message = ("done", None) if result["ok"] else ("failed", result["message"])
    except FileNotFoundError:
        state, message = "failed", "找不到上传的文件（可能已被清理），请重新上传。"
    except storage.DatabaseBusy:
        state, message = "failed", "数据库正忙（例如正在导入站点），未保存任何数据。请稍后重新上传。"
    except Exception:
        traceback.print_exc()
        state, message = "failed", "读取文件时出现内部错误，未保存任何数据。错误已记录，请联系管理员。"
    finally:
        upload.unlink(missing_ok=True)
    finish(state, **({"message": message} if message else {}))
    return state


def _refused(report) -> str:
    if report.file_errors:
        return report.file_errors[0]
    return f"{report.error_rows} 行有错误，整个文件未导入（逐行原因见报告）"


def _demand(db_path, request, data: bytes, progress) -> dict:
    from .. import storage

    name = request["name"]
    db = storage.connect(db_path, busy_timeout_ms=_BUSY_TIMEOUT_MS)
    try:
        report = import_layer(db, name, data, request["filename"], datum=request["datum"],
                              region=request["region"], username=request.get("user"), progress=progress)
    except CoverageError as exc:  # the name was taken since the upload
        return {"ok": False, "name": name, "message": exc.text, "text": exc.text}
    finally:
        db.conn.close()
    ok = bool(report.written)
    return {"ok": ok, "name": name, "points": report.written, "message": None if ok else _refused(report),
            "text": format_layer_report(report, name)}


def _candidates(db_path, request, data: bytes, progress) -> dict:
    report = read_candidates(data, request["filename"], datum=request["datum"], region=request["region"])
    if not report.ok:
        return {"ok": False, "message": _refused(report), "text": format_layer_report(report)}
    progress("store")
    key = save_candidates(candidates_dir(db_path), report)
    return {"ok": True, "candidates": key, "count": len(report.lons), "filename": request["filename"]}
