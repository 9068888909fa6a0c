"""What a rider sees on /nearby and a station page (issue 10, rider points 1–13)."""

import json
import re

import pytest

from tests.conftest import csrf_token, make_station

# Tuesday 2026-11-24, 03:00 in Beijing: most stations are closed.
NIGHT = "2026-11-24T03:00:00+08:00"
HERE = {"lat": 39.9087, "lon": 116.3975}


@pytest.fixture
def night(fresh_db):
    """Ten day-time stations around the rider and one open all night 2.4 km away."""
    ids = {"day": [make_station(fresh_db, name=f"白天站{i}", lon=HERE["lon"] + 0.001 * i,
                                lat=HERE["lat"], hours="Mo-Su 08:00-20:00") for i in range(1, 11)]}
    ids["night"] = make_station(fresh_db, name="通宵站", lon=HERE["lon"] + 0.028, lat=HERE["lat"],
                                hours="24/7")
    ids["unknown"] = make_station(fresh_db, name="时间未知站", lon=HERE["lon"] + 0.0005,
                                  lat=HERE["lat"], hours=None)
    return ids


def ids_in(text, css_class):
    """Station ids listed under one group (results-true, results-false, results-none)."""
    match = re.search(rf'<ol class="results {css_class}">(.*?)</ol>', text, re.S)
    return [int(i) for i in re.findall(r'data-station-id="(\d+)"', match.group(1))] if match else []


def test_at_night_open_stations_come_first_and_closed_ones_apart(client, night):
    text = client.get("/nearby", query_string={**HERE, "at": NIGHT}).get_data(as_text=True)
    assert ids_in(text, "results-true") == [night["night"]]
    assert "现在开门（1）" in text and "现在关门（9）" in text and "开放时间未知（1）" in text
    all_ids = [int(i) for i in re.findall(r'data-station-id="(\d+)"', text)]
    assert all_ids[0] == night["night"]  # the open one leads even though it is the farthest
    assert all_ids.index(night["unknown"]) < all_ids.index(night["day"][0])
    assert set(ids_in(text, "results-false")) == set(night["day"][:9])
    # The open one shows its real distance (2.4 km), so the rider knows how far it is.
    assert re.search(r'通宵站</a>.*?<b class="dist">2\.4 公里</b>', text, re.S)


def test_e_bike_minutes_beside_walking_and_the_rider_picks(client, night):
    # 2.4 km × 1.3 on streets: 13 minutes at 15 km/h, 38 minutes on foot.
    text = client.get("/nearby", query_string={**HERE, "at": NIGHT}).get_data(as_text=True)
    assert re.search(r'<span class="time lead">骑车约 13 分钟</span> · <span class="time other">'
                     r'步行约 38 分钟</span>', text)
    walk = client.get("/nearby", query_string={**HERE, "at": NIGHT, "mode": "walk"}).get_data(
        as_text=True)
    assert re.search(r'<span class="time lead">步行约 38 分钟</span> · <span class="time other">'
                     r'骑车约 13 分钟</span>', walk)
    assert 'aria-current="true"\n           href="/nearby?' in walk and "mode=ride" in walk
    bad = client.get("/nearby", query_string={**HERE, "mode": "car"})
    assert bad.status_code == 400 and "不认识的出行方式“car”" in bad.get_data(as_text=True)


def test_a_district_lists_its_stations_without_made_up_distances(client, fresh_db):
    inside = [make_station(fresh_db, name=f"东城站{i}", district="东城区", lon=116.41 + i * 0.001,
                           lat=39.92) for i in range(3)]
    make_station(fresh_db, name="西城站", district="西城区", lon=116.36, lat=39.91)
    text = client.get("/nearby?district=东城区").get_data(as_text=True)
    listed = [int(i) for i in re.findall(r'data-station-id="(\d+)"', text)]
    assert sorted(listed) == sorted(inside)
    assert "东城区共有 3 个驿站" in text and "不显示距离" in text
    assert not re.search(r"\d 米|公里 ·|步行约|骑车约", text)
    assert 'href="/stations?district=%E4%B8%9C%E5%9F%8E%E5%8C%BA"' in text


def test_outside_the_region_says_no_station_is_near_and_what_is_covered(client, night):
    text = client.get("/nearby?lat=31.2304&lon=121.4737").get_data(as_text=True)  # Shanghai
    assert 'data-station-id' not in text and "分钟" not in text
    assert "您附近 20 公里内没有驿站" in text and "北京市 16 个区" in text


def test_without_javascript_the_page_says_what_to_do(client, night):
    text = client.get("/nearby").get_data(as_text=True)
    noscript = re.search(r"<noscript>(.*?)</noscript>", text, re.S).group(1)
    assert "选择区" in noscript and "?lat=39.9087&amp;lon=116.3975" in noscript
    # The buttons that need JavaScript are hidden until a script shows them.
    assert re.search(r'<button type="button" id="locate"[^>]*\bhidden\b', text)
    assert re.search(r'<button type="button" id="pick-on-map"[^>]*\bhidden\b', text)
    page = client.get(f"/stations/{night['night']}").get_data(as_text=True)
    assert re.search(r'<iframe[^>]*\bhidden\b', page) and "地图需要开启 JavaScript" in page


def test_feedback_thanks_the_rider_where_the_form_was(client, night):
    station = night["night"]
    token = csrf_token(client, f"/stations/{station}")
    response = client.post(f"/stations/{station}/feedback", data={"csrf_token": token, "rating": "5"})
    assert response.headers["Location"].endswith(f"/stations/{station}#feedback")
    text = client.get(f"/stations/{station}").get_data(as_text=True)
    section = re.search(r'<section id="feedback".*?</section>', text, re.S).group(0)
    assert "谢谢您的反馈" in section and 'role="status"' in section
    # No empty form inviting a second submission: it waits folded behind "再写一条".
    assert re.search(r'<details class="again"><summary>还想补充？再写一条</summary>\s*<form', section)
    assert text.count("谢谢您的反馈") == 1
    # The next visit offers the form again.
    assert "<form" in re.search(r'<section id="feedback".*?</section>',
                                client.get(f"/stations/{station}").get_data(as_text=True),
                                re.S).group(0)


@pytest.mark.parametrize("query,expected", [
    ("facility=bogus", "不认识的设施“bogus”"), ("datum=osgb", "不认识的坐标系“osgb”"),
    ("k=500", "结果个数应在 1 到 50 之间"), ("k=ten", "结果个数“ten”不是整数"),
    ("at=yesterday", "时间“yesterday”无法识别"), ("open_now=maybe", "选项“maybe”无效"),
])
def test_rider_page_errors_are_chinese(client, night, query, expected):
    response = client.get(f"/nearby?lat=39.9&lon=116.4&{query}")
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and expected in text
    error = re.search(r'<p class="error" role="alert">(.*?)</p>', text).group(1)
    assert not re.search(r"[A-Za-z]{4,}", error.replace("bogus", "").replace("osgb", "")
                         .replace("yesterday", "").replace("maybe", "")), error


def test_closed_station_page_offers_no_route_and_says_closed_once(client, fresh_db):
    closed = make_station(fresh_db, name="旧站", status="closed")
    text = client.get(f"/stations/{closed}").get_data(as_text=True)
    assert "nav-amap" not in text and 'id="feedback"' not in text
    assert text.count("已关闭") == 1 and "找附近开门的驿站" in text
    paused = make_station(fresh_db, name="歇业站", status="temporarily_closed")
    text = client.get(f"/stations/{paused}").get_data(as_text=True)
    assert "nav-amap" not in text and text.count("暂停开放") == 2  # the tag and the sentence


def test_no_engineer_words_on_rider_pages(client, night):
    for path in ("/nearby", f"/stations/{night['night']}", "/stations"):
        text = client.get(path).get_data(as_text=True)
        assert "WGS-84" not in text and "WGS84" not in text, path


def test_directory_page_beyond_the_last_is_the_last(app, client, night):
    app.config["YIZHAN_PAGE_SIZE"] = 5  # 12 stations: 3 pages
    text = client.get("/stations?page=99999").get_data(as_text=True)
    assert "99999" not in text and "第 3 / 3 页" in text
    assert text.count('<li class="station">') == 2 and 'rel="prev" href="/stations?page=2' in text


def test_favicon_is_served(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"
    assert 'rel="icon"' in client.get("/nearby").get_data(as_text=True)


def test_footer_contrast_is_at_least_4_5(client):
    with client.get("/static/site.css") as response:
        css = response.get_data(as_text=True)
    color = re.search(r"\.foot\{[^}]*color:#([0-9a-f]{3,6})", css).group(1)
    background = re.search(r"body\{[^}]*background:#([0-9a-f]{3,6})", css).group(1)

    def luminance(hex_colour):
        if len(hex_colour) == 3:
            hex_colour = "".join(c * 2 for c in hex_colour)
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(color), luminance(background)), reverse=True)
    assert (light + 0.05) / (dark + 0.05) >= 4.5


def test_maps_default_to_tiles_that_work_in_china(client, night):
    from geodata.datum import wgs84_to_gcj02

    station = night["night"]
    html = client.get(f"/stations/{station}/map").get_data(as_text=True)
    assert "autonavi.com" in html and "openstreetmap" not in html
    glon, glat = wgs84_to_gcj02(HERE["lon"] + 0.028, HERE["lat"])
    centre = re.search(r"center: \[([\d.]+), ([\d.]+)\]", html).groups()
    assert (float(centre[0]), float(centre[1])) == pytest.approx((glat, glon), abs=1e-6)
    assert 'setPrefix("Leaflet")' in html  # a plain prefix, no flag
    assert 'layer.on("tileerror"' in html
    assert json.dumps("地图底图加载不出来")[1:-1] in html
    page = client.get("/nearby").get_data(as_text=True)
    assert 'data-datum="gcj02"' in page and "autonavi.com" in page


def test_station_map_is_metric_with_the_label_closed_until_tapped(client, night):
    html = client.get(f"/stations/{night['night']}/map").get_data(as_text=True)
    assert "L.control.scale({metric: true, imperial: false})" in html
    assert "L.control.scale()" not in html
    assert '"permanent": false' in html or '"permanent":false' in html
    assert "<noscript>" in html


@pytest.mark.parametrize("moment, label", [
    ("2026-10-01T10:00:00+08:00", "已打烊"),    # National Day (Thursday): a statutory holiday
    ("2026-10-10T10:00:00+08:00", "营业中"),    # Saturday, a make-up working day (调休)
])
def test_weekday_hours_except_holidays_follow_chinas_calendar(client, fresh_db, moment, label):
    station = make_station(fresh_db, name="日历站", hours="周一至周五 9:00-17:00（法定节假日除外）")
    text = client.get("/nearby", query_string={**HERE, "at": moment}).get_data(as_text=True)
    item = re.search(rf'data-station-id="{station}">(.*?)</li>', text, re.S).group(1)
    assert f'class="open open-{label == "营业中"}">{label}' in item
    page = client.get(f"/stations/{station}").get_data(as_text=True)
    assert re.search(r"<dd>周一至周五 0?9:00-17:00[^<]*（法定节假日除外）</dd>", page)  # the remark shown


def test_the_finder_keeps_the_moment_asked_about(client, night):
    """Ticking a filter on a list asked for a given time (a shared link, a check at 3 a.m.)
    answers for that time again, not for now."""
    text = client.get("/nearby", query_string={**HERE, "at": NIGHT}).get_data(as_text=True)
    form = re.search(r'<form method="get"[^>]*id="finder".*?</form>', text, re.S).group(0)
    assert f'<input type="hidden" name="at" value="{NIGHT}">' in form
    bad = client.get("/nearby", query_string={**HERE, "at": "nonsense"}).get_data(as_text=True)
    assert 'name="at"' not in bad  # a refused time is not sent again
