"""yizhan ledger import, yizhan report, and the demo's synthetic year of ledgers."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from stations import ledger, storage
from stations.accounts import users
from tests.conftest import make_station


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def test_demo_makes_a_synthetic_year_that_reports_are_not_empty(cli, db_path):
    result = cli("demo", "--stations", "60", "--seed", "3", "--no-users", "--ledger-days", "60")
    assert result.exit_code == 0, result.output
    assert "服务台账" in result.output and "合成数据" in result.output
    db = storage.connect(db_path)
    assert db.execute("SELECT count(*), min(synthetic) FROM ledger_entries").fetchone()[0] > 1000
    assert db.execute("SELECT min(synthetic) FROM ledger_entries").fetchone()[0] == 1
    assert db.execute("SELECT count(*), min(synthetic) FROM meetings").fetchone()[1] == 1
    start = ledger.today() - timedelta(days=60)
    total = ledger.ledger_report(db, start=start)["total"]
    assert total["visits"] > 0 and total["checkins"] > 0 and total["meetings_worker"] > 0
    assert total["checkins"] < total["visits"]  # riders check in at a share of the visits


def test_ledger_import_and_report_json(cli, fresh_db, tmp_path):
    a = make_station(fresh_db, name="甲站", district="海淀区", host_union="海淀区总工会", lon=116.30, lat=39.96)
    y = ledger.today().year - 1
    path = tmp_path / "month.csv"
    path.write_text(f"站点编号,日期,外卖骑手,快递员,饮水\n{a},{y}-05-01,4,1,3\n{a},{y}-05-02,6,0,2\n",
                    encoding="utf-8")
    assert cli("ledger", "import", str(path), "--dry-run").exit_code == 0
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0
    result = cli("ledger", "import", str(path))
    assert result.exit_code == 0 and "已写入 2 天" in result.output, result.output
    report = cli("report", "--year", str(y), "--json")
    data = json.loads(report.output)
    assert data["total"]["visits"] == 11 and data["total"]["services"] == 5
    assert [m["visits"] for m in data["months"] if m["visits"]] == [11]
    assert data["districts"][0]["district"] == "海淀区"
    text = cli("report", "--year", str(y), "--district", "海淀区").output
    assert text.startswith(f"{y}年海淀区，全区共召开职工沟通会 0 场")


def test_ledger_import_refuses_bad_rows_and_another_unions_stations(cli, fresh_db, tmp_path):
    users.add_user(fresh_db, "cy", "cy-pass-12", "union", "朝阳区总工会", create_union=True)
    a = make_station(fresh_db, name="甲站", district="海淀区", host_union="海淀区总工会", lon=116.30, lat=39.96)
    path = tmp_path / "bad.csv"
    future = (date.today() + timedelta(days=10)).isoformat()
    path.write_text(f"站点编号,日期,外卖骑手\n{a},{future},4\n", encoding="utf-8")
    result = cli("ledger", "import", str(path), "--user", "cy")
    assert result.exit_code != 0 and "不是本工会的站点" in result.output and "未来" in result.output
    assert "未写入任何数据" in result.output
    assert cli("report", "--district", "火星区").exit_code != 0
