"""Storage: migrations, the spatial index, history and restore."""

import sqlite3

import pytest

from stations import storage
from tests.conftest import make_station


def test_fresh_database_settings(fresh_db):
    assert storage.schema_version(fresh_db) == len(storage.MIGRATIONS)
    assert fresh_db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert fresh_db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert fresh_db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_an_older_database_is_upgraded_in_place(db_path):
    db = storage.connect(db_path)
    storage.migrate(db, target=1)  # as the first release left it
    db.execute("INSERT INTO stations (name, lon, lat, created_at, updated_at) "
               "VALUES ('旧站', 116.40, 39.90, 'then', 'then')")
    db.conn.commit()
    db.conn.close()

    db = storage.connect(db_path)
    assert storage.migrate(db) == (1, len(storage.MIGRATIONS))
    old = storage.get_station(db, 1)
    assert old["name"] == "旧站"
    # the spatial index was back-filled and the history table exists
    assert [s["name"] for s in storage.stations_in_bbox(db, (116.3, 39.8, 116.5, 40.0))] == ["旧站"]
    assert storage.station_history(db, 1) == []
    assert storage.migrate(db) == (len(storage.MIGRATIONS), len(storage.MIGRATIONS))


def test_bbox_uses_the_rtree_and_follows_moves(fresh_db):
    a = make_station(fresh_db, name="甲", lon=116.40, lat=39.90)
    make_station(fresh_db, name="乙", lon=116.60, lat=40.10)
    box = (116.35, 39.85, 116.45, 39.95)
    assert [s["id"] for s in storage.stations_in_bbox(fresh_db, box)] == [a]
    storage.update_station(fresh_db, a, {"lon": 116.70, "lat": 40.20}, username="t")
    assert storage.stations_in_bbox(fresh_db, box) == []


def test_private_fields_only_when_asked(fresh_db):
    sid = make_station(fresh_db)
    assert "manager_phone" not in storage.get_station(fresh_db, sid)
    assert storage.get_station(fresh_db, sid, private=True)["manager_phone"] == "13800138000"


def test_missing_station_raises_the_projects_error(fresh_db):
    with pytest.raises(storage.StationNotFound):
        storage.get_station(fresh_db, 999)
    with pytest.raises(storage.StationNotFound):
        storage.get_station(fresh_db, "abc")


def test_history_records_who_when_before_after_and_restore(fresh_db):
    sid = make_station(fresh_db, name="原名")
    storage.update_station(fresh_db, sid, {"name": "新名"}, username="alice")
    storage.set_status(fresh_db, sid, "closed", username="bob")
    history = storage.station_history(fresh_db, sid)
    assert [h["action"] for h in history] == ["close", "edit", "import"]
    edit = history[1]
    assert edit["username"] == "alice" and edit["before"]["name"] == "原名"
    assert edit["after"]["name"] == "新名" and edit["at"]

    first = history[-1]["id"]
    restored = storage.restore_version(fresh_db, sid, first, username="carol")
    assert restored["name"] == "原名" and restored["status"] == "active"
    latest = storage.station_history(fresh_db, sid)[0]
    assert latest["action"] == f"restore:{first}" and latest["username"] == "carol"
    with pytest.raises(storage.HistoryNotFound):
        storage.restore_version(fresh_db, sid, 99999)


def test_a_failing_bulk_insert_writes_nothing(fresh_db):
    good = {"name": "好", "lon": 116.4, "lat": 39.9}
    bad = {"name": None, "lon": 116.5, "lat": 39.9}  # NOT NULL violated by the last record
    with pytest.raises(sqlite3.IntegrityError):
        storage.insert_stations(fresh_db, [good, good | {"lon": 116.41}, bad])
    assert storage.count_stations(fresh_db) == 0
    assert fresh_db.execute("select count(*) from station_history").fetchone()[0] == 0


def test_search_filters_combine(fresh_db):
    make_station(fresh_db, name="A站", facilities=["water", "microwave"], district="东城区")
    make_station(fresh_db, name="B站", facilities=["water"], district="东城区", lon=116.41)
    make_station(fresh_db, name="C站", facilities=["water", "microwave"], district="西城区",
                 status="closed", lon=116.36)
    rows, total = storage.search_stations(fresh_db, facility=["water", "microwave"], status="active")
    assert total == 1 and rows[0]["name"] == "A站"
    assert storage.search_stations(fresh_db, q="%")[1] == 0  # LIKE wildcards are literal
    assert storage.search_stations(fresh_db, district="西城区")[1] == 1
