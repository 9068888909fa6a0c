"""The yizhan command line: init, demo, import, export, user."""

import json
import subprocess
import sys

import geopandas as gpd
import pytest
from openpyxl import load_workbook

from stations import storage


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def test_init_reports_the_version(cli, db_path):
    result = cli("init")
    assert result.exit_code == 0 and "已是最新" in result.output


def test_demo_is_synthetic_inside_beijing_and_reproducible(cli, app, db_path):
    result = cli("demo", "--stations", "300", "--seed", "5", "--no-users")
    assert result.exit_code == 0, result.output
    db = storage.connect(db_path)
    rows = list(storage.iter_stations(db, private=True))
    assert len(rows) == 300 and all(r["synthetic"] for r in rows)
    assert all("合成" in r["name"] for r in rows)
    districts = {r["district"] for r in rows}
    assert None not in districts and len(districts) >= 10  # spread over the city
    core = sum(r["district"] in ("东城区", "西城区", "朝阳区", "海淀区") for r in rows)
    assert core > 300 * 0.4  # denser in the urban core (these four are 8% of the area)
    from stations.registry.demo import generate_stations
    again = generate_stations(300, seed=5)
    assert [(r["lon"], r["lat"], r["name"]) for r in again] == [(r["lon"], r["lat"], r["name"]) for r in rows]


def test_demo_china_region(app):
    from geodata import districts as geo
    from stations.registry.demo import generate_stations
    rows = generate_stations(400, seed=3, region="china")
    assert geo.in_china_many([r["lon"] for r in rows], [r["lat"] for r in rows]).all()
    assert len({r["district"] for r in rows}) > 20


def test_import_exit_codes_and_report(cli, tmp_path, db_path):
    good = tmp_path / "good.csv"
    good.write_text("名称,经度,纬度\n甲驿站,116.42,39.92\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,经度,纬度\n乙驿站,116.43,39.92\n丙驿站,abc,39.9\n", encoding="utf-8")
    dry = cli("import", str(good), "--dry-run")
    assert dry.exit_code == 0 and "试运行" in dry.output
    failed = cli("import", str(bad))
    assert failed.exit_code == 1 and "第 3 行 [经度] 错误" in failed.output
    assert cli("import", str(good)).exit_code == 0
    assert storage.count_stations(storage.connect(db_path)) == 1
    skipped = cli("import", str(bad), "--skip-invalid")
    assert skipped.exit_code == 0 and "已写入 1 个站点" in skipped.output


def test_export_every_format_and_round_trip(cli, tmp_path, db_path):
    assert cli("demo", "--stations", "50", "--no-users").exit_code == 0
    db = storage.connect(db_path)
    first = storage.get_station(db, 1, private=True)

    for fmt in ("csv", "xlsx", "geojson", "gpkg"):
        out = tmp_path / f"all.{fmt}"
        result = cli("export", "--format", fmt, "-o", str(out))
        assert result.exit_code == 0 and "已导出 50 个站点" in result.output

    text = (tmp_path / "all.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("id,名称,地址,区")
    assert first["manager_phone"] not in text  # personal data only on request
    sheet = load_workbook(tmp_path / "all.xlsx").active
    assert sheet.max_row == 51 and sheet.cell(2, 2).value == first["name"]
    doc = json.loads((tmp_path / "all.geojson").read_text(encoding="utf-8"))
    assert doc["features"][0]["id"] == 1
    assert doc["features"][0]["geometry"]["coordinates"] == [first["lon"], first["lat"]]
    frame = gpd.read_file(tmp_path / "all.gpkg")
    assert len(frame) == 50 and frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].x == pytest.approx(first["lon"])

    # A new registry filled from the export holds the same stations.
    fresh = tmp_path / "fresh.db"
    from stations.cli import register_commands
    from stations.web import create_app
    other = register_commands(create_app({"YIZHAN_DB": str(fresh), "YIZHAN_SECRET_KEY": "x"})).test_cli_runner()
    result = other.invoke(args=["import", str(tmp_path / "all.csv")])
    assert result.exit_code == 0, result.output
    copy = storage.get_station(storage.connect(fresh), 1)
    assert (copy["name"], copy["hours"], copy["facilities"], copy["synthetic"]) == \
        (first["name"], first["hours"], first["facilities"], True)


def test_export_with_personal_data_and_gcj02(cli, tmp_path, db_path):
    cli("demo", "--stations", "5", "--no-users")
    first = storage.get_station(storage.connect(db_path), 1, private=True)
    out = tmp_path / "p.geojson"
    assert cli("export", "--format", "geojson", "--datum", "gcj02", "--include-personal",
               "-o", str(out)).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["datum"] == "gcj02"
    assert doc["features"][0]["properties"]["manager_phone"] == first["manager_phone"]
    from geodata.datum import wgs84_to_gcj02
    expected = wgs84_to_gcj02(first["lon"], first["lat"])
    assert doc["features"][0]["geometry"]["coordinates"] == pytest.approx(list(expected), abs=1e-6)


def test_user_add_from_stdin_and_errors(cli, db_path):
    assert cli("union", "add", "朝阳区总工会", "--kind", "district").exit_code == 0
    result = cli("user", "add", "zhang", "--role", "reviewer", "--union", "朝阳区总工会",
                 "--password-stdin", input="long-enough-pw\n")
    assert result.exit_code == 0, result.output
    from stations.accounts.users import authenticate
    user = authenticate(storage.connect(db_path), "zhang", "long-enough-pw")
    assert user["role"] == "reviewer" and user["union_name"] == "朝阳区总工会"
    dup = cli("user", "add", "zhang", "--role", "reviewer", "--password-stdin", input="long-enough-pw\n")
    assert dup.exit_code != 0 and "已存在" in dup.output
    short = cli("user", "add", "li", "--role", "admin", "--password-stdin", input="short\n")
    assert short.exit_code != 0 and "密码太短" in short.output
    role = cli("user", "add", "wu", "--role", "boss", "--password-stdin", input="long-enough-pw\n")
    assert role.exit_code != 0


def test_console_script_has_help_for_every_command(tmp_path):
    exe = [sys.executable, "-m", "flask", "--app", "app"]
    for command in (["init"], ["demo"], ["import"], ["export"], ["user", "add"]):
        result = subprocess.run(exe + command + ["--help"], capture_output=True, text=True,
                                env={"YIZHAN_DB": str(tmp_path / "h.db"), "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0 and "Usage" in result.stdout, result.stderr


def test_demo_passes_the_importers_duplicate_checks():
    # A demo exported and imported again must not be refused as duplicates.
    from stations.registry.demo import generate_stations
    from stations.registry.validation import check_locations
    rows = generate_stations(5000, seed=2021)
    problems = [e for e, _ in check_locations([dict(r) for r in rows], "beijing") if e]
    assert problems == []
