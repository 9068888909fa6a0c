"""Import jobs: a web import runs in a process of its own, not in a web worker.

The web layer saves the upload beside the database (``<db folder>/imports/``),
records a job (``create_job``) and starts ``python -m stations.jobs DB JOB``
(``launch``), detached, so the worker that took the upload is free at once.
The job process reads, checks and writes the file through the same importer as
the command line, publishes its progress in a small file beside the upload
(the database is locked by the import's own transaction while it writes), and
finally stores the report — the same report a page or the CLI shows — in the
``import_jobs`` row.  The upload is removed when the job ends.

A job is of a ``kind``: ``stations`` (the station list, ``stations.registry.importer``) or
``ledger`` (a month's service ledger, ``stations.ledger.import_ledger``, all or nothing,
written as the account that uploaded it).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from . import storage
from .registry.importer import ImportReport, import_path

__all__ = ["STATES", "KINDS", "status", "uploads_dir", "save_upload", "create_job", "get_job", "recent_jobs",
           "can_import_valid_rows", "import_valid_rows", "forget_kept_uploads",
           "launch", "start_detached", "run_job", "main"]

STATES = {"queued": "排队中", "running": "正在导入", "done": "已完成", "failed": "失败"}
_START_GRACE_S = 120   # a queued job whose process never started is failed after this
_PROGRESS_EVERY_S = 0.5
_BUSY_TIMEOUT_MS = 120_000  # a background job can wait its turn for the write lock
KEEP_UPLOAD_S = 24 * 3600   # a dry run's upload waits this long for "import the valid rows"


def uploads_dir(db_path) -> Path:
    """Where uploads wait for their job: ``imports/`` beside the database file."""
    return Path(db_path).resolve().parent / "imports"


def save_upload(db_path, save) -> Path:
    """A new private file in the uploads folder, filled by ``save(path)``."""
    folder = uploads_dir(db_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"upload-{secrets.token_hex(8)}"
    save(path)
    path.chmod(0o600)
    return path


KINDS = ("stations", "ledger")


def create_job(db, *, filename: str, upload: Path, options: dict, username=None, kind: str = "stations") -> int:
    """Record a queued import of ``upload`` (``kind``: see ``KINDS``); ``options`` go to the importer."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    with storage.write_transaction(db):
        cursor = db.execute(
            "INSERT INTO import_jobs (created_by, filename, upload, options, state, created_at, kind) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?)",
            [username, filename[:200], str(upload), json.dumps(options), storage.now_iso(), kind])
        return cursor.lastrowid


def _decode(row) -> dict:
    job = dict(row)
    job["options"] = json.loads(job["options"] or "{}")
    job["report"] = _report_class(job).from_dict(json.loads(job["report"])) if job["report"] else None
    job["state_label"] = STATES[job["state"]]
    job["finished"] = job["state"] in ("done", "failed")
    return job


def get_job(db, job_id, db_path=None) -> dict | None:
    """The job with its decoded report, and its live progress while it runs.

    A job whose process has died (killed, out of memory) is marked failed here.
    """
    try:
        job_id = int(job_id)
    except (TypeError, ValueError):
        return None
    rows = list(db.query("SELECT * FROM import_jobs WHERE id = ?", [job_id])) if 0 < job_id < 2**63 else []
    if not rows:
        return None
    job = _decode(rows[0])
    if not job["finished"]:
        if _vanished(job):
            _finish(db, job_id, "failed", _failure_report(job, "导入进程意外结束（可能内存不足或被终止），"
                                                              "未写入任何数据。请重试或改用命令行导入。"))
            return get_job(db, job_id)
        if db_path is not None:
            job.update(_read_progress(db_path, job_id))
    return job


def status(job) -> dict:
    """A job's state and progress as the pages poll for them (JSON-ready)."""
    report = job["report"]
    return {"id": job["id"], "state": job["state"], "state_label": job["state_label"],
            "stage": job.get("stage"), "rows_done": job["rows_done"], "rows_total": job["rows_total"],
            "written": job["written"], "finished": job["finished"],
            "file_errors": report.file_errors if report else [],
            "error_rows": report.error_rows if report else None}


def _report_class(job):
    if job.get("kind") == "ledger":
        from .ledger.importer import LedgerImportReport

        return LedgerImportReport
    return ImportReport


def recent_jobs(db, limit: int = 10, *, kind: str = "stations", username: str | None = None) -> list[dict]:
    """The latest jobs of a kind (only ``username``'s, when given), newest first (without
    their reports)."""
    mine = " AND created_by = ?" if username is not None else ""
    rows = db.execute("SELECT id, created_by, filename, state, rows_done, rows_total, written, "
                      f"created_at, finished_at FROM import_jobs WHERE kind = ?{mine} ORDER BY id DESC LIMIT ?",
                      [kind] + ([username] if username is not None else []) + [int(limit)]).fetchall()
    keys = ("id", "created_by", "filename", "state", "rows_done", "rows_total", "written",
            "created_at", "finished_at")
    return [dict(zip(keys, row), state_label=STATES[row[3]]) for row in rows]


def _vanished(job) -> bool:
    if job["pid"]:
        try:
            os.kill(job["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    if job["state"] == "queued":
        waited = datetime.now(storage.TZ) - datetime.fromisoformat(job["created_at"])
        return waited.total_seconds() > _START_GRACE_S
    return False


def _failure_report(job, message):
    options = job["options"]
    if job.get("kind") == "ledger":
        report = _report_class(job)(job["filename"], dry_run=bool(options.get("dry_run")))
        report.file_errors.append(message)
        return report
    report = ImportReport(job["filename"], datum=options.get("datum", "wgs84"),
                          dry_run=options.get("dry_run", False),
                          skip_invalid=options.get("skip_invalid", False))
    report.file_errors.append(message)
    return report


def _finish(db, job_id, state, report: ImportReport, *, keep_upload=False):
    with storage.write_transaction(db):
        db.execute("UPDATE import_jobs SET state = ?, report = ?, written = ?, rows_done = ?, "
                   "rows_total = ?, finished_at = ?, upload = CASE WHEN ? THEN upload END "
                   "WHERE id = ?",
                   [state, json.dumps(report.to_dict(), ensure_ascii=False), report.written,
                    report.total_rows, report.total_rows, storage.now_iso(), int(keep_upload),
                    job_id])


def can_import_valid_rows(job) -> bool:
    """Whether a finished job's upload waits for a one-click import of its valid rows:
    a dry run, or a run that wrote nothing because of errors, with rows worth writing."""
    report = job.get("report")
    if job.get("kind", "stations") != "stations":
        return False  # the ledger's import is all or nothing
    return bool(job.get("upload") and job["state"] == "done" and report is not None
                and not report.file_errors and not report.written and report.valid_rows
                and (report.dry_run or report.error_rows and not report.skip_invalid))


def import_valid_rows(db, job_id, *, username=None) -> int | None:
    """A new job importing the valid rows of ``job_id``'s upload (no second upload); the
    upload passes to the new job, so a second click finds nothing.  None when there is
    nothing to import (already done, expired, not such a job)."""
    with storage.write_transaction(db):
        job = get_job(db, job_id)
        if job is None or not can_import_valid_rows(job) or not Path(job["upload"]).exists():
            return None
        db.execute("UPDATE import_jobs SET upload = NULL WHERE id = ?", [job["id"]])
        options = dict(job["options"], dry_run=False, skip_invalid=True, from_job=job["id"])
        return create_job(db, filename=job["filename"], upload=Path(job["upload"]),
                          options=options, username=username)


def forget_kept_uploads(db, db_path, max_age_s: float = KEEP_UPLOAD_S) -> int:
    """Remove the uploads finished jobs kept for "import the valid rows" once they are
    older than ``max_age_s``; returns how many."""
    cutoff = datetime.fromtimestamp(time.time() - max_age_s, storage.TZ).isoformat(timespec="seconds")
    rows = db.execute("SELECT id, upload FROM import_jobs WHERE upload IS NOT NULL AND "
                      "state IN ('done', 'failed') AND finished_at < ?", [cutoff]).fetchall()
    if not rows:
        return 0
    with storage.write_transaction(db):
        for job_id, upload in rows:
            db.execute("UPDATE import_jobs SET upload = NULL WHERE id = ?", [job_id])
    for _, upload in rows:
        folder = uploads_dir(db_path)
        if Path(upload).resolve().parent == folder:  # only our own files
            Path(upload).unlink(missing_ok=True)
    return len(rows)


# --- progress, through a file (the import holds the database's write lock) -------------

def _progress_path(db_path, job_id) -> Path:
    return uploads_dir(db_path) / f"job-{int(job_id)}.progress"


def _read_progress(db_path, job_id) -> dict:
    try:
        data = json.loads(_progress_path(db_path, job_id).read_text())
    except (OSError, ValueError):
        return {}
    return {k: data[k] for k in ("stage", "rows_done", "rows_total") if k in data}


class _Progress:
    def __init__(self, db_path, job_id):
        self.path = _progress_path(db_path, job_id)
        self.last = 0.0

    def __call__(self, stage, done, total):
        now = time.monotonic()
        if now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps({"stage": stage, "rows_done": done,
                                       "rows_total": max(total or 0, done) or None}))
        partial.replace(self.path)


# --- starting and running ------------------------------------------------------------

def launch(db_path, job_id) -> None:
    """Start the job's process, detached from this one (and reaped by init, not us)."""
    folder = uploads_dir(db_path)
    log = folder / f"job-{int(job_id)}.log"
    start_detached([sys.executable, "-m", "stations.jobs", str(Path(db_path).resolve()), str(int(job_id))], log)


def start_detached(command: list[str], log: Path) -> None:
    """Run ``command`` in the background, detached, its output appended to ``log`` (also
    how the /plan page's background jobs start: ``stations.plan_queue``)."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # sh starts the job in the background and exits at once: the job is nobody's child
    # here, so no zombie waits in a web worker (threads and gevent alike).
    shell = subprocess.Popen(["/bin/sh", "-c", '"$@" >>"$0" 2>&1 </dev/null &', str(log), *command],
                             env=env, start_new_session=True, close_fds=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    shell.wait(timeout=30)


def run_job(db_path, job_id) -> str:
    """Run one queued job to its end; returns its final state."""
    db = storage.connect(db_path, busy_timeout_ms=_BUSY_TIMEOUT_MS)
    try:
        job = get_job(db, job_id)
        if job is None or job["state"] != "queued":
            return job["state"] if job else "missing"
        with storage.write_transaction(db):
            db.execute("UPDATE import_jobs SET state = 'running', pid = ?, started_at = ? WHERE id = ?",
                       [os.getpid(), storage.now_iso(), int(job_id)])
        options = job["options"]
        upload = Path(job["upload"] or "")
        try:
            if job["kind"] == "ledger":
                report = _run_ledger(db, job, upload, _Progress(db_path, job_id))
            else:
                report = import_path(db, upload, job["filename"], datum=options.get("datum", "wgs84"),
                                     region=options.get("region", "beijing"),
                                     dry_run=bool(options.get("dry_run")),
                                     skip_invalid=bool(options.get("skip_invalid")),
                                     username=job["created_by"], progress=_Progress(db_path, job_id),
                                     spill_dir=uploads_dir(db_path),
                                     union_parent_id=options.get("union_parent_id"))
            if report.written:
                storage.checkpoint(db)
            state = "failed" if report.file_errors else "done"
        except storage.DatabaseBusy:
            report = _failure_report(job, "数据库正忙：另一个写入任务（例如另一个导入）长时间占用数据库，"
                                          "本次导入未写入任何数据。请稍后重试。")
            state = "failed"
        except FileNotFoundError:
            report = _failure_report(job, "找不到上传的文件（可能已被清理），请重新上传。")
            state = "failed"
        except Exception:
            traceback.print_exc()
            report = _failure_report(job, "导入时出现内部错误，未写入任何数据。错误已记录，请联系管理员。")
            state = "failed"
        job["state"], job["report"] = state, report
        keep = can_import_valid_rows(job)  # one click imports the valid rows, no new upload
        _finish(db, int(job_id), state, report, keep_upload=keep)
        if not keep:
            upload.unlink(missing_ok=True)
        _progress_path(db_path, job_id).unlink(missing_ok=True)
        return state
    finally:
        db.conn.close()


def _run_ledger(db, job, upload: Path, progress):
    """A month's ledger, checked and written as the account that uploaded it (its role and
    union as they are now: a union user writes its own union's stations only)."""
    from .accounts import users
    from .ledger import import_ledger

    user = users.get_user(db, job["created_by"]) if job["created_by"] else None
    if user is None or user["role"] not in ("admin", "union"):
        return _failure_report(job, "上传这个文件的账号已不存在或已无权登记台账，未写入任何数据。")
    if not upload.is_file():
        raise FileNotFoundError(upload)
    return import_ledger(db, upload, user, filename=job["filename"], dry_run=bool(job["options"].get("dry_run")),
                         progress=progress)


def main(argv=None) -> int:
    """``python -m stations.jobs DB JOB_ID``: run one import job."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m stations.jobs DB JOB_ID", file=sys.stderr)
        return 2
    state = run_job(args[0], int(args[1]))
    if state == "done":
        (uploads_dir(args[0]) / f"job-{int(args[1])}.log").unlink(missing_ok=True)
    return 0 if state in ("done", "failed") else 1


if __name__ == "__main__":
    sys.exit(main())
