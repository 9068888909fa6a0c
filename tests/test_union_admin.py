"""The organiser's side of unions (issue 16, points 3 and 7): imports resolving host
unions, the 工会管理 page, the station form, and the unions API."""

from __future__ import annotations

import io
import json

import pytest

from stations import storage
from stations.registry.exporter import export_stations
from stations.registry.importer import format_report, import_file
from stations.unions import store

CSV = """名称,经度,纬度,所属工会,所属工会编号
甲站,116.45,39.92,顺丰工会,
乙站,116.46,39.93,顺丰速运工会（北京分公司）,
丙站,116.47,39.94,京东物流工会,
丁站,116.48,39.95,,{chaoyang}
戊站,116.49,39.96,顺丰速运工会(北京分公司),
己站,116.40,39.90,,99999
"""


def _tree(db):
    city = store.add_union(db, "北京市总工会", kind="municipal")
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    haidian = store.add_union(db, "海淀区总工会", parent_id=city, kind="district")
    sf = store.add_union(db, "顺丰速运工会", parent_id=chaoyang, aliases=["顺丰工会"])
    return dict(city=city, chaoyang=chaoyang, haidian=haidian, sf=sf)


def _unions(db):
    return {u["name"]: u for u in store.list_unions(db)}


def test_import_resolves_unions_by_name_or_alias_and_reports_the_new_ones(fresh_db):
    t = _tree(fresh_db)
    data = CSV.format(chaoyang=t["chaoyang"]).encode()
    before = _unions(fresh_db)

    dry = import_file(fresh_db, data, "list.csv", dry_run=True)
    assert _unions(fresh_db) == before  # a dry run adds nothing…
    text = format_report(dry)           # …but says the same
    assert "新建工会 2 个：顺丰速运工会（北京分公司）（是否指“顺丰速运工会”？）、京东物流工会；请在工会管理中确认归属" in text
    assert dry.new_union_count == 2
    assert dry.new_unions[0] == ["顺丰速运工会（北京分公司）", 2, ["顺丰速运工会"]]
    assert "所属工会编号“99999”不存在" in text
    assert "所属工会编号" not in dry.ignored_columns

    report = import_file(fresh_db, data, "list.csv", username="organiser")
    assert report.written == 6
    assert "警告：新建工会 2 个：" in format_report(report)
    unions = _unions(fresh_db)
    assert unions["京东物流工会"]["status"] == "unplaced" and unions["京东物流工会"]["parent_id"] is None
    stations = {s["name"]: s for s in fresh_db.query("SELECT name, host_union, host_union_id FROM stations")}
    assert stations["甲站"]["host_union_id"] == t["sf"] and stations["甲站"]["host_union"] == "顺丰速运工会"
    # two spellings of one new union are one record; the id is read when the name is empty
    assert stations["乙站"]["host_union_id"] == stations["戊站"]["host_union_id"]
    assert stations["丁站"]["host_union"] == "朝阳区总工会"
    assert stations["己站"]["host_union_id"] is None
    assert [e["username"] for e in store.union_log(fresh_db) if e["action"] == "add"][:2] == ["organiser"] * 2


def test_import_adds_no_union_for_rows_it_does_not_write_and_places_under_a_district(fresh_db):
    t = _tree(fresh_db)
    data = ("名称,经度,纬度,所属工会\n好站,116.45,39.92,美团外卖工会\n"
            "坏站,500,39.93,饿了么工会\n").encode()
    refused = import_file(fresh_db, data, "x.csv")
    assert refused.written == 0 and "饿了么工会" not in format_report(refused)
    assert "导入后将新建工会 1 个：美团外卖工会" in format_report(refused)
    assert "美团外卖工会" not in _unions(fresh_db)
    done = import_file(fresh_db, data, "x.csv", skip_invalid=True, union_parent_id=t["chaoyang"])
    assert done.written == 1
    unions = _unions(fresh_db)
    assert unions["美团外卖工会"]["parent_id"] == t["chaoyang"] and unions["美团外卖工会"]["status"] == "unplaced"
    assert "饿了么工会" not in unions


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_an_export_carries_the_union_id_and_imports_again(fresh_db, tmp_path, fmt):
    t = _tree(fresh_db)
    storage.insert_stations(fresh_db, [
        {"name": "顺丰站", "lon": 116.45, "lat": 39.92, "host_union": "顺丰工会"},
        {"name": "区站", "lon": 116.46, "lat": 39.93, "host_union_id": t["chaoyang"]},
        {"name": "无主站", "lon": 116.47, "lat": 39.94}])
    out = io.BytesIO()
    export_stations(storage.iter_stations(fresh_db), fmt, out)
    data = out.getvalue()
    if fmt == "geojson":
        features = json.loads(data)["features"]
        assert {f["properties"]["name"]: f["properties"]["host_union_id"] for f in features} == {
            "顺丰站": t["sf"], "区站": t["chaoyang"], "无主站": None}
    elif fmt == "csv":
        assert "所属工会编号" in data.decode("utf-8-sig").splitlines()[0]

    other = storage.connect(tmp_path / "other.db")
    storage.migrate(other)
    store.add_union(other, "朝阳区总工会", kind="district")  # ids differ there: the name decides
    store.add_union(other, "别的工会")
    report = import_file(other, data, f"export.{fmt}")
    assert report.ok and report.written == 3, format_report(report)
    assert not {"所属工会编号", "host_union_id"} & set(report.ignored_columns)
    assert [u[0] for u in report.new_unions] == ["顺丰速运工会"]
    got = {r[0]: r[1] for r in other.execute("SELECT name, host_union FROM stations")}
    assert got == {"顺丰站": "顺丰速运工会", "区站": "朝阳区总工会", "无主站": None}

    if fmt == "geojson":
        return  # a feature's id is not read as a station id: into its own database, duplicates
    again = import_file(fresh_db, data, f"export.{fmt}")  # into its own database: same ids, updates
    assert again.ok and again.new_union_count == 0
    assert {r[0]: r[1] for r in fresh_db.execute("SELECT name, host_union_id FROM stations")} == {
        "顺丰站": t["sf"], "区站": t["chaoyang"], "无主站": None}


def test_the_gpkg_export_carries_the_union_id(fresh_db, tmp_path):
    import geopandas as gpd

    t = _tree(fresh_db)
    storage.insert_stations(fresh_db, [{"name": "顺丰站", "lon": 116.45, "lat": 39.92, "host_union": "顺丰工会"}])
    path = tmp_path / "x.gpkg"
    with open(path, "wb") as out:
        export_stations(storage.iter_stations(fresh_db), "gpkg", out)
    frame = gpd.read_file(path, engine="pyogrio")
    assert list(frame["host_union_id"]) == [t["sf"]] and list(frame["host_union"]) == ["顺丰速运工会"]
