"""Demand layers refuse hostile GeoJSON with a message, never a crash."""

from stations.coverage import demand


def test_deeply_nested_geojson_is_a_file_error_not_a_crash():
    deep = b'{"type":"FeatureCollection","features":[' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    report = demand.read_points(deep, "deep.geojson")
    assert report.valid_rows == 0 and report.written == 0
    assert report.file_errors and "嵌套过深" in report.file_errors[0]


def test_broken_json_names_the_problem():
    report = demand.read_points(b'{"type":"FeatureCollection","features":[{"type":', "x.geojson")
    assert report.file_errors and report.valid_rows == 0


def test_a_good_point_still_reads():
    ok = (b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
          b'{"type":"Point","coordinates":[116.4,39.9]},"properties":{"weight":3}}]}')
    report = demand.read_points(ok, "x.geojson", need_weight=True)
    assert list(report.lons) == [116.4] and list(report.weights) == [3.0]
