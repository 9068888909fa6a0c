"""Concurrent writers on a real SQLite file: they wait their turn, or get a clear 503 / message.

Each test holds the write lock from another process (or runs a real import) while
API requests from threads, or other CLI processes, try to write.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stations import storage
from tests.conftest import PASSWORDS, csrf_token, make_station

YIZHAN = str(Path(sys.executable).with_name("yizhan"))
ADMIN = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORDS['admin']}".encode()).decode()}

# Another process that takes the write lock and keeps it (as a long import does).
HOLD_LOCK = """
import select, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # until told, or the time is up
conn.execute("COMMIT")
"""


@contextlib.contextmanager
def write_lock_held(db_path, seconds):
    """Hold the database's write lock from another process: ``seconds`` at most, less if
    the block ends sooner."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db_path), str(seconds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.communicate("release\n", timeout=seconds + 30)
    assert holder.returncode == 0


def new_station(i):
    """A station south of the import grids (no duplicates of theirs), 300 m from the next."""
    return {"name": f"并发驿站{i}", "address": f"北京市大兴区某街{i}号",
            "lon": round(116.30 + (i % 100) * 0.003, 4), "lat": round(39.60 + (i // 100) * 0.003, 4)}


def run_threads(target, count):
    results = [None] * count

    def run(i):
        results[i] = target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def integrity(db_path) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def station_count(db_path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT count(*) FROM stations").fetchone()[0]
    finally:
        conn.close()


def write_csv(path, rows, tag, lat0=39.80):
    """``rows`` stations on a 200-wide grid 220 m apart, named after ``tag``."""
    lines = ["名称,地址,经度,纬度"]
    for i in range(rows):
        lines.append(f"并发{tag}{i}号驿站,北京市朝阳区某路{i}号,"
                     f"{116.20 + (i % 200) * 0.002:.4f},{lat0 + (i // 200) * 0.002:.4f}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env(db_path, **extra):
    env = {**os.environ, "YIZHAN_DB": str(db_path), "YIZHAN_SECRET_KEY": "test-secret"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


# --- the web: writers wait, or 503 ---------------------------------------------------------

def test_api_writes_wait_while_another_process_holds_the_write_lock(app, fresh_db, db_path):
    existing = [make_station(fresh_db, name=f"老驿站{i}", lon=116.30 + i * 0.003, lat=39.95)
                for i in range(4)]
    app.test_client().get("/api/v1/stations")  # the app is up and its schema checked

    def write(i):
        client = app.test_client()
        if i % 2:
            sid = existing[i // 2]
            response = client.patch(f"/api/v1/stations/{sid}", json={"hours": "Mo-Fr 09:00-18:00"},
                                    headers=ADMIN)
        else:
            response = client.post("/api/v1/stations", json=new_station(i), headers=ADMIN)
        return response.status_code, response.get_data(as_text=True)

    with write_lock_held(db_path, 1.5):
        started = time.monotonic()
        answers = run_threads(write, 8)  # under the failed-login limit: each checks a password
        waited = time.monotonic() - started
    assert [status for status, _ in answers] == [201, 200] * 4, answers
    assert waited > 1.0  # they did wait for the lock, not slip past it
    assert station_count(db_path) == 4 + 4
    hours = {r["id"]: r["hours"] for r in storage.iter_stations(fresh_db)}
    assert all(hours[sid] == "Mo-Fr 09:00-18:00" for sid in existing)
    assert integrity(db_path) == "ok"


def test_api_writes_beside_a_real_cli_import(app, fresh_db, db_path, tmp_path):
    """The defect as found: API writes while a 20,000-row import writes."""
    big = write_csv(tmp_path / "big.csv", 20000, "大")
    app.test_client().get("/api/v1/stations")
    importer = subprocess.Popen([YIZHAN, "import", str(big)], env=cli_env(db_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    statuses, lock = [], threading.Lock()

    def keep_writing(worker):
        client, n = app.test_client(), 0
        while importer.poll() is None or n < 2:
            response = client.post("/api/v1/stations", json=new_station(worker * 1000 + n),
                                   headers=ADMIN)
            with lock:
                statuses.append(response.status_code)
            n += 1

    run_threads(keep_writing, 4)
    out, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err
    assert "Traceback" not in err and "已写入 20000 个站点" in out
    assert statuses and set(statuses) == {201}, sorted(set(statuses))
    assert station_count(db_path) == 20000 + len(statuses)
    assert integrity(db_path) == "ok"


@pytest.fixture
def impatient(app):
    """The app with a 0.3 s busy timeout, so a held lock outlasts it."""
    app.config["YIZHAN_BUSY_TIMEOUT_MS"] = 300
    return app


def test_a_write_that_outwaits_the_timeout_answers_503_with_retry_after(impatient, fresh_db, db_path):
    sid = make_station(fresh_db)
    client = impatient.test_client()
    token = csrf_token(client, f"/stations/{sid}")
    with write_lock_held(db_path, 4):
        api = client.post("/api/v1/stations", json=new_station(1), headers=ADMIN)
        patch = client.patch(f"/api/v1/stations/{sid}", json={"name": "改名驿站"}, headers=ADMIN)
        page = client.post(f"/stations/{sid}/feedback", data={"csrf_token": token, "rating": "5"})
        reading = client.get(f"/api/v1/stations/{sid}")  # readers are not held up
    for response in (api, patch):
        assert response.status_code == 503, response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 0
        error = response.get_json()["error"]
        assert error["status"] == 503 and "数据库正忙" in error["message"]
    assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
    assert page.mimetype == "text/html" and "数据库正忙" in page.get_data(as_text=True)
    assert reading.status_code == 200
    assert station_count(db_path) == 1
    assert storage.get_station(fresh_db, sid)["name"] == "测试驿站"  # nothing half-written
    # once the lock is gone, the same request goes through
    assert client.post("/api/v1/stations", json=new_station(1), headers=ADMIN).status_code == 201


GEVENT_WORKER = """
from gevent import monkey; monkey.patch_all()
import sys, time, gevent
from stations import storage
db = storage.connect(sys.argv[1], busy_timeout_ms=10000)
ticks, done = [], []
def other_requests():
    while not done:
        ticks.append(time.monotonic())
        gevent.sleep(0.02)
    ticks.append(time.monotonic())  # a stall just before the end counts too
def write():
    with storage.write_transaction(db):
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'stations_version'")
print("ready", flush=True)
sys.stdin.readline()  # the test has taken the lock
ticker = gevent.spawn(other_requests)
gevent.sleep(0.1)
started = time.monotonic()
gevent.spawn(write).join()
waited = time.monotonic() - started
done.append(1)
ticker.join()
print(f"{waited:.3f} {max(b - a for a, b in zip(ticks, ticks[1:])):.3f}")
"""


def test_a_waiting_writer_does_not_stall_its_gevent_worker(fresh_db, db_path):
    """Under gunicorn's gevent workers, waiting for the lock must let other requests run."""
    worker = subprocess.Popen([sys.executable, "-c", GEVENT_WORKER, str(db_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[1])
    assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    with write_lock_held(db_path, 1.5):
        out, err = worker.communicate("go\n", timeout=60)
    assert worker.returncode == 0, err
    waited, longest_gap = map(float, out.split())
    assert waited > 0.5  # the write waited for the lock, then went through
    assert longest_gap < 0.4, longest_gap  # meanwhile the other greenlet kept running


# --- the command line ---------------------------------------------------------------------

def test_two_cli_imports_at_once_both_finish(fresh_db, db_path, tmp_path):
    first = write_csv(tmp_path / "first.csv", 3000, "甲", lat0=39.80)
    second = write_csv(tmp_path / "second.csv", 3000, "乙", lat0=39.81)
    with write_lock_held(db_path, 5):  # both reach their write while a third writer works
        imports = [subprocess.Popen([YIZHAN, "import", str(path)], env=cli_env(db_path),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for path in (first, second)]
        answers = [p.communicate(timeout=120) for p in imports]
    for process, (out, err) in zip(imports, answers):
        assert process.returncode == 0, err
        assert "Traceback" not in err and "已写入 3000 个站点" in out
    assert station_count(db_path) == 6000
    assert integrity(db_path) == "ok"


def test_an_import_that_cannot_get_the_lock_says_so_in_chinese(fresh_db, db_path, tmp_path):
    path = write_csv(tmp_path / "some.csv", 50, "丙")
    with write_lock_held(db_path, 8):
        result = subprocess.run([YIZHAN, "import", str(path)], capture_output=True, text=True,
                                env=cli_env(db_path, YIZHAN_BUSY_TIMEOUT_MS=300), timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "数据库正忙" in result.stderr and "YIZHAN_BUSY_TIMEOUT_MS" in result.stderr
    assert station_count(db_path) == 0 and integrity(db_path) == "ok"


def test_processes_creating_a_new_database_at_once(tmp_path):
    """Servers starting together each migrate: one does, the others find it done."""
    path = tmp_path / "new.db"
    storage.connect(path).conn.close()  # an empty database (version 0) in WAL mode

    def start_up(_):
        db = storage.connect(path)
        try:
            return storage.migrate(db)
        except Exception as exc:  # the error is what the test compares
            return repr(exc)
        finally:
            db.conn.close()

    with write_lock_held(path, 1.5):  # every one finds version 0, then waits for the lock
        answers = run_threads(start_up, 4)
    latest = len(storage.MIGRATIONS)
    assert answers == [(0, latest)] * 4, answers
    assert storage.schema_version(storage.connect(path)) == latest


# --- the storage layer --------------------------------------------------------------------

def test_write_transaction_waits_then_raises_database_busy(db_path, fresh_db):
    impatient = storage.connect(db_path, busy_timeout_ms=200)
    with write_lock_held(db_path, 3):
        started = time.monotonic()
        with pytest.raises(storage.DatabaseBusy):
            make_station(impatient)
        assert 0.15 < time.monotonic() - started < 2.5
        with pytest.raises(storage.DatabaseBusy):  # sqlite-utils' own writes too
            impatient["meta"].insert({"key": "x", "value": 1})
        assert not impatient.conn.in_transaction
    assert station_count(db_path) == 0
    assert make_station(impatient)  # the connection is usable afterwards


def test_write_transactions_nest_as_savepoints(fresh_db):
    with storage.write_transaction(fresh_db):
        kept = make_station(fresh_db, name="外层驿站")
        with pytest.raises(ValueError):
            with storage.write_transaction(fresh_db):
                make_station(fresh_db, name="内层驿站", lon=116.41)
                raise ValueError("inner fails")
    names = [r["name"] for r in storage.iter_stations(fresh_db)]
    assert names == ["外层驿站"] and kept
    with pytest.raises(RuntimeError):
        with storage.write_transaction(fresh_db):
            make_station(fresh_db, name="回滚驿站", lon=116.42)
            raise RuntimeError("outer fails")
    assert [r["name"] for r in storage.iter_stations(fresh_db)] == ["外层驿站"]
    assert not fresh_db.conn.in_transaction


def test_checkpoint_does_not_wait_for_another_writer(db_path, fresh_db):
    make_station(fresh_db)
    with write_lock_held(db_path, 3):
        started = time.monotonic()
        storage.checkpoint(fresh_db)
        assert time.monotonic() - started < 1.0
