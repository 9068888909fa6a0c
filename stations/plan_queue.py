"""The /plan page's background jobs take turns here: a bounded number run at once.

Every background job of /plan — a long coverage computation, reading an uploaded demand
layer, candidates file or street network (an .osm.pbf extract) — runs in a process of its own, and one can hold a gigabyte.
So at most ``at_once`` of them run together (the setting YIZHAN_PLAN_JOBS_AT_ONCE), the
others wait in the order they came, and one user has at most one job queued or running
(a second is refused with the first one's key, ``AlreadyQueued``).

The queue is one small JSON file, ``queue.json`` in the jobs' folder (``plan_jobs/``
beside the database), read and changed only under an exclusive ``flock`` on
``queue.lock`` beside it: every gunicorn worker and every job process on the machine sees
the same queue, and no two take the last free slot.  A job's process is started as soon
as the job is queued (``python -m stations.plan_queue DB KEY``) and waits for its turn
here, importing nothing but the standard library while it waits (a bare interpreter, a
few MB); when its turn comes it imports and runs the work for its kind (``RUNNERS``) and
leaves the queue when done.  It runs at a lower CPU priority (``NICE``) than the web
workers, so riders' requests come first when both cores are busy.

A process that died — killed, out of memory, a web worker restarted — holds no slot:
whoever takes the lock next (a waiting job, a page polling its job, a new job) finds its
pid gone, drops it and marks the job failed in its status file (``<key>.status.json``,
the file the pages read).  A job whose process never started is dropped after
``grace_s``.  This module imports only the standard library.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RUNNERS", "GRACE_S", "AlreadyQueued", "jobs_dir", "status_path", "read_json", "write_json",
           "queued_for", "enqueue", "take_turn", "leave", "place", "wait_turn", "alive", "failure", "main"]

RUNNERS = {"plan": "stations.coverage.jobs:run_plan_job",
           "demand": "stations.coverage.uploads:run_upload_job",
           "candidates": "stations.coverage.uploads:run_upload_job",
           "network": "stations.coverage.uploads:run_upload_job"}
GRACE_S = 120          # a queued job whose process never showed up is dropped after this
POLL_S = 0.5           # how often a waiting job looks whether its turn has come
GIVE_UP_S = 24 * 3600  # a job that waited a day is failed (its files are removed then anyway)
NICE = 10              # a job's CPU priority below the web workers'
_WHAT = {"plan": "计算", "demand": "读取文件的", "candidates": "读取文件的", "network": "建立道路网络的"}


def failure(kind: str, why: str) -> str:
    """What a job's page says when its process ``why`` ("died", "never_started")."""
    what = _WHAT.get(kind, "后台")
    if why == "never_started":
        return f"{what}进程没有启动，请重试"
    return f"{what}进程意外结束（可能内存不足或被终止），请重试"


class AlreadyQueued(Exception):
    """The user already has a job queued or running: ``key`` is that job's."""

    def __init__(self, key: str, kind: str):
        super().__init__(key)
        self.key, self.kind = key, kind


# --- the files ------------------------------------------------------------------------------

def jobs_dir(db_path) -> Path:
    """``plan_jobs/`` beside the database file: the queue and every job's files."""
    return Path(db_path).resolve().parent / "plan_jobs"


def status_path(folder: Path, key: str) -> Path:
    """The job's status file, which the pages read (state, stage, message…)."""
    return Path(folder) / f"{key}.status.json"


def write_json(path: Path, data) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    partial.replace(path)  # a reader never sees half a file


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextmanager
def _locked(folder: Path):
    """The queue's entries, to read and change under the lock; written back on the way out."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / "queue.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        queue = read_json(folder / "queue.json")
        if not isinstance(queue, dict) or not isinstance(queue.get("jobs"), list):
            queue = {"jobs": []}
        before = json.dumps(queue, sort_keys=True)
        yield queue
        if json.dumps(queue, sort_keys=True) != before:
            write_json(folder / "queue.json", queue)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --- processes ------------------------------------------------------------------------------

def _stat(pid: int) -> list | None:
    """The fields of ``/proc/<pid>/stat`` after the command's name (Linux), or None."""
    try:
        return Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None


def _born(pid: int):
    """When process ``pid`` started (clock ticks since boot, Linux), or None when unknown:
    with the pid, it tells a live job from an unrelated process that reused its number."""
    fields = _stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (ValueError, IndexError):
        return None


def alive(pid, born=None) -> bool:
    """Whether process ``pid`` runs (and, when ``born`` is known, is the one born then);
    a zombie — dead, not yet reaped by its parent — does not."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc: the signal's answer is all there is
    return fields[0] != "Z" and (born is None or _born(pid) == born)


def _prune(folder: Path, queue: dict, grace_s: float) -> None:
    """Drop finished jobs and those whose process died or never started (marked failed)."""
    kept, now = [], time.time()
    for entry in queue["jobs"]:
        path = status_path(folder, entry["key"])
        status = read_json(path)
        if not isinstance(status, dict) or status.get("state") in ("done", "failed"):
            continue  # finished (or its files are gone): it left without saying so
        if entry.get("pid"):
            if alive(entry["pid"], entry.get("born")):
                kept.append(entry)
                continue
            why = "died"
        elif now - entry.get("queued_at", 0) <= grace_s:
            kept.append(entry)
            continue
        else:
            why = "never_started"
        write_json(path, {**status, "state": "failed", "message": failure(entry.get("kind"), why),
                          "finished_at": now})
    queue["jobs"] = kept


# --- the queue ------------------------------------------------------------------------------

def queued_for(folder: Path, user, grace_s: float = GRACE_S) -> str | None:
    """The key of ``user``'s job in the queue, or None (a cheap look before an upload is saved)."""
    if user is None:
        return None
    with _locked(folder) as queue:
        _prune(Path(folder), queue, grace_s)
        return next((e["key"] for e in queue["jobs"] if e.get("user") == user), None)


def enqueue(folder: Path, key: str, *, kind: str, db_path, user=None, at_once: int = 2,
            grace_s: float = GRACE_S) -> None:
    """Put job ``key`` (its status file already written, state queued) at the end of the
    queue; AlreadyQueued when ``user`` has a job queued or running (``user`` None: no such rule)."""
    if kind not in RUNNERS:
        raise ValueError(f"unknown job kind {kind!r}")
    with _locked(folder) as queue:
        _prune(Path(folder), queue, grace_s)
        if user is not None:
            mine = next((e for e in queue["jobs"] if e.get("user") == user), None)
            if mine is not None:
                raise AlreadyQueued(mine["key"], mine["kind"])
        queue["jobs"].append({"key": key, "kind": kind, "user": user, "db": str(Path(db_path).resolve()),
                              "at_once": max(1, int(at_once)), "state": "queued", "pid": None,
                              "queued_at": time.time()})


def take_turn(folder: Path, key: str, pid: int | None = None, grace_s: float = GRACE_S) -> str:
    """Process ``pid`` (this one by default) runs job ``key`` if its turn has come: "run"
    (the slot is its own now), "wait", or "gone" (not in the queue: failed or finished)."""
    pid = pid or os.getpid()
    with _locked(folder) as queue:
        _prune(Path(folder), queue, grace_s)
        jobs = queue["jobs"]
        entry = next((e for e in jobs if e["key"] == key), None)
        if entry is None:
            return "gone"
        if entry.get("pid") != pid:
            entry["pid"], entry["born"] = pid, _born(pid)
        if entry["state"] == "running":
            return "run"
        running = sum(1 for e in jobs if e["state"] == "running")
        first = next(e for e in jobs if e["state"] == "queued")
        if first is entry and running < entry["at_once"]:
            entry["state"], entry["started_at"] = "running", time.time()
            return "run"
        return "wait"


def leave(folder: Path, key: str) -> None:
    """Job ``key`` is over: its slot is free."""
    with _locked(folder) as queue:
        queue["jobs"] = [e for e in queue["jobs"] if e["key"] != key]


def place(folder: Path, key: str, grace_s: float = GRACE_S) -> dict | None:
    """{"ahead": jobs before this one (running or waiting; None once its turn has come),
    "running", "at_once", "pid", "state"} for a job in the queue, or None when it is not
    (finished, failed, dropped)."""
    with _locked(folder) as queue:
        _prune(Path(folder), queue, grace_s)
        jobs = queue["jobs"]
        at = next((k for k, e in enumerate(jobs) if e["key"] == key), None)
        if at is None:
            return None
        entry = jobs[at]
        return {"ahead": at if entry["state"] == "queued" else None,
                "running": sum(1 for e in jobs if e["state"] == "running"),
                "at_once": entry["at_once"], "pid": entry.get("pid"), "state": entry["state"]}


def wait_turn(folder: Path, key: str, *, poll_s: float = POLL_S, give_up_s: float = GIVE_UP_S) -> bool:
    """Wait until job ``key`` may run (True) or is no longer queued (False)."""
    deadline = time.monotonic() + give_up_s
    while True:
        turn = take_turn(folder, key)
        if turn != "wait":
            return turn == "run"
        if time.monotonic() > deadline:
            path = status_path(folder, key)
            write_json(path, {**(read_json(path) or {}), "state": "failed",
                              "message": "排队超过一天仍未轮到，已取消，请重新提交"})
            leave(folder, key)
            return False
        time.sleep(poll_s)


def main(argv=None) -> int:
    """``python -m stations.plan_queue DB KEY``: wait for the job's turn, then run it."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m stations.plan_queue DB KEY", file=sys.stderr)
        return 2
    db_path, key = args
    try:
        os.nice(NICE)  # riders' requests in the web workers come first when the cores are busy
    except OSError:
        pass
    folder = jobs_dir(db_path)
    entry = next((e for e in (read_json(folder / "queue.json") or {}).get("jobs", []) if e.get("key") == key), None)
    if entry is None or not wait_turn(folder, key):
        return 1
    try:
        module, name = RUNNERS[entry["kind"]].split(":")
        state = getattr(importlib.import_module(module), name)(db_path, key)
    finally:
        leave(folder, key)
    return 0 if state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
