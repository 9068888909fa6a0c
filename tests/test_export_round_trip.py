"""An export imports back, whatever the names hold (issue 18, item 23).

``=HYPERLINK("http://x","点我")驿站`` leaves a CSV as ``'=HYPERLINK(""http://x"",…``;
``csv.Sniffer`` judged the quoting from the first 8 KB only, so such a row further down
split wrongly.  Every export format, written and read back, gives the same names.
"""

from __future__ import annotations

import io

import pytest

from stations import storage
from stations.registry.exporter import export_stations, undefuse
from stations.registry.importer import format_report, import_file
from tests.conftest import make_station

HOSTILE = [
    '=HYPERLINK("http://x","点我")驿站',
    '他说"你好",然后走了',
    '"整个名字在引号里"',
    '一个"孤零零的引号',
    "'=1+2",
    "''@SUM(A1)",
    "-减号开头,还有逗号",
    "+86 开头",
    "逗号,分号;竖线|反斜杠\\",
    "<script>alert(1)</script>驿站",
    "骑手🚴驿站",
    '""',
    "'",
]


def stations_with_hostile_names_far_down(db):
    """300 plain stations first (well past the CSV's first 8 KB), then the hostile names,
    in names and in the union's name."""
    for i in range(300):
        make_station(db, name=f"普通驿站{i:03d}", lon=116.0 + i * 0.001, lat=39.80, district=None)
    for k, name in enumerate(HOSTILE):
        make_station(db, name=name, host_union=name, address=f'{name}，地址"{k}"', lon=116.5 + k * 0.001,
                     lat=39.95, district=None)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_every_import_format_reads_its_export_back_with_hostile_names(fresh_db, tmp_path, fmt):
    stations_with_hostile_names_far_down(fresh_db)
    out = io.BytesIO()
    export_stations(storage.iter_stations(fresh_db, private=True), fmt, out, private=True)
    data = out.getvalue()
    if fmt == "csv":
        assert data.decode("utf-8-sig").index("HYPERLINK") > 8192  # beyond what a sniffer samples
    copy = storage.connect(tmp_path / "copy.db")
    storage.migrate(copy)
    report = import_file(copy, data, f"all.{fmt}")
    assert report.ok and report.written == 300 + len(HOSTILE), format_report(report)
    original = {s["id"]: s for s in storage.iter_stations(fresh_db, private=True)}
    back = {s["id"]: s for s in storage.iter_stations(copy, private=True)}
    assert sorted(back) == sorted(original)
    for sid, station in original.items():
        for field in ("name", "host_union", "address"):
            assert back[sid][field] == station[field], (fmt, field, station[field], back[sid][field])


def test_the_geopackage_export_carries_the_hostile_names_unchanged(fresh_db, tmp_path):
    import pyogrio

    stations_with_hostile_names_far_down(fresh_db)
    path = tmp_path / "all.gpkg"
    with open(path, "wb") as out:
        export_stations(storage.iter_stations(fresh_db, private=True), "gpkg", out, private=True)
    frame = pyogrio.read_dataframe(path)
    # spreadsheet-like text is defused there too (a GIS table opens in Excel): one apostrophe
    assert "'=HYPERLINK(\"http://x\",\"点我\")驿站" in set(frame["name"])
    assert sorted(undefuse(n) for n in frame["name"]) == sorted(s["name"] for s in storage.iter_stations(fresh_db))
    assert sorted(undefuse(n) for n in frame["host_union"] if isinstance(n, str)) == sorted(HOSTILE)
