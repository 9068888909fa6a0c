"""yizhan backup / restore: online snapshots while writers work, checked restores."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from stations.storage import backup
from stations import storage
from stations.accounts import users
from tests.conftest import make_station


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def grid(count, start=0, lat0=39.80):
    return [{"name": f"备份驿站{i}", "address": f"北京市朝阳区某路{i}号",
             "lon": 116.20 + (i % 200) * 0.002, "lat": lat0 + (i // 200) * 0.002,
             "facilities": ["water"], "manager": "李四", "manager_phone": "13900000000"}
            for i in range(start, start + count)]


def snapshot(db):
    """Everything a user could notice: stations with private fields, accounts, history length."""
    return (list(storage.iter_stations(db, private=True)),
            [(u["username"], u["role"]) for u in users.list_users(db)],
            db.execute("SELECT count(*) FROM station_history").fetchone()[0])


def read(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_backup_while_a_writer_inserts_is_a_consistent_snapshot(cli, fresh_db, db_path, tmp_path):
    storage.insert_stations(fresh_db, grid(30000))
    stop, written = threading.Event(), []

    def writer():
        db = storage.connect(db_path)
        n = 0
        while not stop.is_set():
            storage.insert_stations(db, grid(1, start=40000 + n, lat0=39.60))
            written.append(n)
            n += 1
        db.conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # the writer is under way
            time.sleep(0.01)
        during = len(written)
        result = cli("backup", str(tmp_path / "snap.db"))
        during = len(written) - during
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "已备份到" in result.output
    copy = str(tmp_path / "snap.db")
    assert read(copy, "PRAGMA integrity_check") == "ok"
    stations = read(copy, "SELECT count(*) FROM stations")
    # one history row per station, and the change counter matches: no half-copied write
    assert read(copy, "SELECT count(*) FROM station_history") == stations
    assert read(copy, "SELECT value FROM meta WHERE key = 'stations_version'") == stations
    assert 30000 + 20 <= stations <= 30000 + len(written)
    assert during > 0  # the writer kept writing while the backup ran
    assert read(copy, "PRAGMA journal_mode") == "delete"  # one self-contained file
    assert not (tmp_path / "snap.db.part").exists()


def test_backup_does_not_overwrite_without_force(cli, fresh_db, tmp_path):
    target = tmp_path / "keep.db"
    target.write_bytes(b"precious")
    result = cli("backup", str(target))
    assert result.exit_code == 1 and "--force" in result.output
    assert target.read_bytes() == b"precious"
    assert cli("backup", str(target), "--force").exit_code == 0
    assert read(str(target), "PRAGMA integrity_check") == "ok"


def test_restore_round_trips_and_the_serving_app_sees_it(cli, app, fresh_db, tmp_path):
    storage.insert_stations(fresh_db, grid(500))
    sid = make_station(fresh_db, name="回滚前的驿站", lon=116.45, lat=39.70)
    before = snapshot(fresh_db)
    assert cli("backup", str(tmp_path / "b.db")).exit_code == 0
    client = app.test_client()
    assert client.get("/api/v1/stations?limit=1").get_json()["total"] == 501
    # later changes that the restore must undo
    storage.update_station(fresh_db, sid, {"name": "改过的名字"})
    storage.insert_stations(fresh_db, grid(50, start=900, lat0=39.65))
    users.add_user(fresh_db, "latecomer", "late-pass-1", "planner")
    version_before_restore = storage.data_version(fresh_db)
    assert client.get("/api/v1/stations?limit=1").get_json()["total"] == 551

    result = cli("restore", str(tmp_path / "b.db"), "--yes")
    assert result.exit_code == 0, result.output
    assert "已恢复 501 个站点" in result.output
    assert snapshot(fresh_db) == before
    assert storage.data_version(fresh_db) > version_before_restore  # indexes rebuild
    assert read(str(tmp_path / "b.db"), "PRAGMA integrity_check") == "ok"
    # the app, still running with its pooled connections, answers from the restored data
    assert client.get("/api/v1/stations?limit=1").get_json()["total"] == 501
    assert client.get(f"/api/v1/stations/{sid}").get_json()["properties"]["name"] == "回滚前的驿站"


def test_restore_asks_first(cli, fresh_db, tmp_path):
    make_station(fresh_db)
    assert cli("backup", str(tmp_path / "b.db")).exit_code == 0
    make_station(fresh_db, name="新驿站", lon=116.45)
    before = snapshot(fresh_db)
    result = cli("restore", str(tmp_path / "b.db"), input="n\n")
    assert result.exit_code == 1 and "确定吗" in result.output and "已取消" in result.output
    assert snapshot(fresh_db) == before
    result = cli("restore", str(tmp_path / "b.db"), input="y\n")
    assert result.exit_code == 0 and len(snapshot(fresh_db)[0]) == 1


def test_restore_of_an_older_version_migrates_it(cli, fresh_db, tmp_path):
    old = storage.connect(tmp_path / "old.db")
    storage.migrate(old, target=3)
    storage.insert_stations(old, grid(3))
    old.conn.close()
    result = cli("restore", str(tmp_path / "old.db"), "--yes")
    assert result.exit_code == 0, result.output
    assert f"已从版本 3 升级到版本 {len(storage.MIGRATIONS)}" in result.output
    assert storage.schema_version(fresh_db) == len(storage.MIGRATIONS)
    assert [r["name"] for r in storage.iter_stations(fresh_db)] == [f"备份驿站{i}" for i in range(3)]


def _not_sqlite(tmp_path, good):
    path = tmp_path / "stations.csv"
    path.write_text("名称,经度,纬度\n甲驿站,116.42,39.92\n", encoding="utf-8")
    return path


def _empty(tmp_path, good):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    return path


def _corrupt(tmp_path, good):
    data = bytearray(good.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):  # scribble over every third page
        data[start + 8:start + 400] = bytes(range(256)) + bytes(range(136))
    path = tmp_path / "corrupt.db"
    path.write_bytes(bytes(data))
    return path


def _truncated(tmp_path, good):
    path = tmp_path / "truncated.db"
    path.write_bytes(good.read_bytes()[: 4096 * 5 + 100])
    return path


def _rewrite_schema(path, update):
    """Edit the file's stored schema text directly (``update`` is an UPDATE of sqlite_master)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(update)
    conn.commit()
    conn.close()
    return path


def _index_out_of_step(tmp_path, good):
    """Readable, but an index disagrees with its table: only integrity_check sees it."""
    path = tmp_path / "bad-index.db"
    path.write_bytes(good.read_bytes())
    return _rewrite_schema(path, "UPDATE sqlite_master SET sql = replace(sql, 'stations(district)', "
                                 "'stations(name)') WHERE name = 'stations_district'")


def _foreign(tmp_path, good):
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE stations (id INTEGER PRIMARY KEY, title TEXT);"
                       "INSERT INTO stations VALUES (1, 'x'); PRAGMA user_version = 2;")
    conn.close()
    return path


def _newer(tmp_path, good):
    path = tmp_path / "newer.db"
    path.write_bytes(good.read_bytes())
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(storage.MIGRATIONS) + 1}")
    conn.close()
    return path


@pytest.mark.parametrize("make, says", [
    (_not_sqlite, "不是 SQLite 数据库文件"),
    (_empty, "不是 SQLite 数据库文件"),
    (_corrupt, "已损坏"),
    (_truncated, "已损坏"),
    (_index_out_of_step, "完整性检查未通过"),
    (_foreign, "不是驿站数据库"),
    (_newer, "更新版本"),
])
def test_restore_refuses_a_bad_file_and_leaves_the_database_alone(cli, fresh_db, db_path, tmp_path,
                                                                  make, says):
    storage.insert_stations(fresh_db, grid(2000))
    good = tmp_path / "good.db"
    assert cli("backup", str(good)).exit_code == 0
    make_station(fresh_db, name="备份之后的驿站", lon=116.45, lat=39.70)
    before = snapshot(fresh_db)
    bad = make(tmp_path, good)
    result = cli("restore", str(bad), "--yes")
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert snapshot(fresh_db) == before
    assert read(str(db_path), "PRAGMA integrity_check") == "ok"


def test_check_backup_reports_what_the_file_holds(fresh_db, tmp_path):
    storage.insert_stations(fresh_db, grid(7))
    info = backup.backup_database(fresh_db, tmp_path / "b.db")
    assert (info.stations, info.version) == (7, len(storage.MIGRATIONS))
    assert backup.check_backup(tmp_path / "b.db").stations == 7


def test_restore_waits_for_another_writer_or_says_the_database_is_busy(cli, app, fresh_db, db_path,
                                                                       tmp_path):
    from tests.test_concurrency import write_lock_held

    make_station(fresh_db)
    assert cli("backup", str(tmp_path / "b.db")).exit_code == 0
    make_station(fresh_db, name="新驿站", lon=116.45)
    before = snapshot(fresh_db)
    app.config["YIZHAN_BUSY_TIMEOUT_MS"] = 300
    with write_lock_held(db_path, 5):
        result = cli("restore", str(tmp_path / "b.db"), "--yes")
    assert result.exit_code == 1 and "数据库正忙" in result.output, result.output
    assert snapshot(fresh_db) == before
    app.config["YIZHAN_BUSY_TIMEOUT_MS"] = 10000
    with write_lock_held(db_path, 1):  # a short write: the restore waits its turn
        result = cli("restore", str(tmp_path / "b.db"), "--yes")
    assert result.exit_code == 0, result.output
    assert len(snapshot(fresh_db)[0]) == 1


# --- a crafted file: only the schema the migrations make at its version ----------------

def _crafted(tmp_path, good, *statements):
    path = tmp_path / "crafted.db"
    path.write_bytes(good.read_bytes())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return path


PROMOTE_AT_LOGIN = ("CREATE TRIGGER sessions_touch AFTER INSERT ON sessions BEGIN "
                    "UPDATE users SET role = 'admin' WHERE id = new.user_id; END")


def test_a_backup_with_an_extra_trigger_is_refused_and_nothing_is_restored(cli, app, fresh_db, tmp_path):
    users.add_user(fresh_db, "dc", "union-pass-1", "union", "东城区总工会", create_union=True)
    make_station(fresh_db)
    good = tmp_path / "good.db"
    assert cli("backup", str(good)).exit_code == 0
    bad = _crafted(tmp_path, good, PROMOTE_AT_LOGIN)
    make_station(fresh_db, name="备份之后的驿站", lon=116.45)
    before = snapshot(fresh_db)
    result = cli("restore", str(bad), "--yes")
    assert result.exit_code == 1, result.output
    assert f"数据库结构与版本 {len(storage.MIGRATIONS)} 不符" in result.output
    assert "多出触发器 sessions_touch" in result.output
    assert isinstance(result.exception, SystemExit)
    assert snapshot(fresh_db) == before
    assert fresh_db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sessions_touch'").fetchone()[0] == 0
    # and a union user who logs in afterwards stays a union user
    client = app.test_client()
    from tests.conftest import csrf_token
    assert client.post("/login", data={"username": "dc", "password": "union-pass-1",
                                       "csrf_token": csrf_token(client)}).status_code == 302
    assert users.get_user(fresh_db, "dc")["role"] == "union"


def test_a_backup_missing_tables_is_refused(cli, fresh_db, tmp_path):
    make_station(fresh_db)
    good = tmp_path / "good.db"
    assert cli("backup", str(good)).exit_code == 0
    bad = _crafted(tmp_path, good, "DROP TABLE sessions", "DROP TABLE campaign_events", "DROP TABLE campaigns")
    before = snapshot(fresh_db)
    result = cli("restore", str(bad), "--yes")
    assert result.exit_code == 1, result.output
    assert "缺少表 campaigns" in result.output and "缺少表 sessions" in result.output
    assert "缺少索引 sessions_user" in result.output
    assert snapshot(fresh_db) == before
    assert storage.schema_version(fresh_db) == len(storage.MIGRATIONS)


@pytest.mark.parametrize("statements, says", [
    (["CREATE VIEW admins AS SELECT * FROM users WHERE role = 'admin'"], "多出视图 admins"),
    (["CREATE TABLE notes (x TEXT)"], "多出表 notes"),
    (["CREATE INDEX users_role ON users(role)"], "多出索引 users_role"),
    (["DROP INDEX stations_status"], "缺少索引 stations_status"),
    (["DROP TRIGGER stations_version_upd"], "缺少触发器 stations_version_upd"),
    # a trigger of the same name doing something else
    (["DROP TRIGGER stations_version_ins",
      "CREATE TRIGGER stations_version_ins AFTER INSERT ON stations BEGIN "
      "UPDATE users SET role = 'admin'; END"], "触发器 stations_version_ins 的定义不同"),
    (["ALTER TABLE users ADD COLUMN is_root INTEGER NOT NULL DEFAULT 1"], "表 users 的定义不同（多出字段 is_root）"),
    (["ALTER TABLE feedback DROP COLUMN client"], "表 feedback 的定义不同（缺少字段 client）"),
])
def test_a_backup_with_another_schema_is_refused_naming_what_differs(cli, fresh_db, tmp_path, statements, says):
    make_station(fresh_db)
    good = tmp_path / "good.db"
    assert cli("backup", str(good)).exit_code == 0
    before = snapshot(fresh_db)
    result = cli("restore", str(_crafted(tmp_path, good, *statements)), "--yes")
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert snapshot(fresh_db) == before


def test_a_changed_constraint_is_refused(cli, fresh_db, tmp_path):
    """The role check widened through the schema itself: columns alike, constraint not."""
    good = tmp_path / "good.db"
    assert cli("backup", str(good)).exit_code == 0
    path = tmp_path / "wide.db"
    path.write_bytes(good.read_bytes())
    _rewrite_schema(path, "UPDATE sqlite_master SET sql = replace(sql, '''planner'', ''union''', "
                          "'''planner'', ''union'', ''root''') WHERE name = 'users'")
    result = cli("restore", str(path), "--yes")
    assert result.exit_code == 1, result.output
    assert "表 users 的定义不同（约束不同）" in result.output


def test_the_same_schema_written_otherwise_is_accepted(cli, fresh_db, tmp_path):
    """White space, identifier quotes and letter case are not a different schema."""
    make_station(fresh_db)
    good = tmp_path / "good.db"
    assert cli("backup", str(good)).exit_code == 0
    _rewrite_schema(good, "UPDATE sqlite_master SET sql = replace(replace(sql, '    ', ' '), "
                          "'CREATE INDEX stations_district', 'create index \"stations_district\"') "
                          "WHERE name IN ('stations', 'stations_district')")
    result = cli("restore", str(good), "--yes")
    assert result.exit_code == 0, result.output
    assert "已恢复 1 个站点" in result.output


@pytest.mark.parametrize("version", range(1, len(storage.MIGRATIONS) + 1))
def test_a_genuine_backup_of_every_version_restores(cli, fresh_db, tmp_path, version):
    old = storage.connect(tmp_path / "old.db")
    storage.migrate(old, target=version)
    old.execute("INSERT INTO stations (name, lon, lat, created_at, updated_at) "
                "VALUES ('旧版驿站', 116.4, 39.9, '2025-01-01', '2025-01-01')")
    old.conn.commit()
    info = backup.backup_database(old, tmp_path / f"v{version}.db")
    old.conn.close()
    assert info.version == version
    result = cli("restore", str(tmp_path / f"v{version}.db"), "--yes")
    assert result.exit_code == 0, result.output
    assert "已恢复 1 个站点" in result.output
    assert storage.schema_version(fresh_db) == len(storage.MIGRATIONS)
    assert [s["name"] for s in storage.iter_stations(fresh_db)] == ["旧版驿站"]
    # and the restored, migrated database is exactly what the migrations make
    assert storage.schema_differences(storage.reference_schema(len(storage.MIGRATIONS)),
                                      storage.describe_schema(fresh_db.conn)) == []
