"""The public directory: search, filters, paging, station pages and the small map."""

import re

from markupsafe import escape

from tests.conftest import make_station

CJK = re.compile(r"[\u4e00-\u9fff]")


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def listed(html):
    """Names of the stations a directory page lists, in order."""
    return re.findall(r'<a class="name" href="/stations/\d+">([^<]*)</a>', html)


def alert_text(html):
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    return match.group(1) if match else None


# --- search and filters ------------------------------------------------------

def test_search_matches_name_or_address_substring(client, fresh_db):
    make_station(fresh_db, name="朝阳门暖心驿站", address="北京市东城区朝阳门内大街1号")
    make_station(fresh_db, name="国贸户外劳动者驿站", address="北京市朝阳区建国门外大街1号",
                 lon=116.4600, lat=39.9090, district="朝阳区")
    make_station(fresh_db, name="中关村驿站", address="北京市海淀区中关村大街27号",
                 lon=116.3160, lat=39.9840, district="海淀区")

    assert listed(page(client, "/stations?q=国贸")) == ["国贸户外劳动者驿站"]
    # "建国门外" is only in an address
    assert listed(page(client, "/stations?q=建国门外")) == ["国贸户外劳动者驿站"]
    # "朝阳门" is in one station's name and address: found once
    assert sorted(listed(page(client, "/stations?q=朝阳门"))) == ["朝阳门暖心驿站"]
    assert sorted(listed(page(client, "/stations?q=大街"))) == sorted(
        ["朝阳门暖心驿站", "国贸户外劳动者驿站", "中关村驿站"])
    html = page(client, "/stations?q=不存在的地方")
    assert listed(html) == [] and "没有符合条件的站点" in html
    # the search box keeps what was typed
    assert 'value="建国门外"' in page(client, "/stations?q=建国门外")


def test_search_treats_like_wildcards_literally(client, fresh_db):
    make_station(fresh_db, name="百分之百驿站", address="某路1号")
    make_station(fresh_db, name="下划线驿站", address="某路2号", lon=116.42, lat=39.91)
    assert listed(page(client, "/stations?q=%25")) == []
    assert listed(page(client, "/stations?q=_")) == []


def test_filter_by_district(client, fresh_db):
    make_station(fresh_db, name="东城甲站")
    make_station(fresh_db, name="朝阳乙站", lon=116.4600, lat=39.9200, district="朝阳区",
                 address="北京市朝阳区某路")
    html = page(client, "/stations?district=朝阳区")
    assert listed(html) == ["朝阳乙站"]
    # the district select offers the districts that have stations, with the chosen one selected
    assert '<option value="朝阳区" selected>' in html
    assert '<option value="东城区" >' in html or '<option value="东城区">' in html
    assert listed(page(client, "/stations?district=东城区")) == ["东城甲站"]


def test_filter_by_status(client, fresh_db):
    make_station(fresh_db, name="开放中的站")
    make_station(fresh_db, name="已关的站", status="closed", lon=116.41, lat=39.91)
    make_station(fresh_db, name="暂停的站", status="temporarily_closed", lon=116.42, lat=39.92)
    assert listed(page(client, "/stations?status=closed")) == ["已关的站"]
    assert listed(page(client, "/stations?status=temporarily_closed")) == ["暂停的站"]
    assert listed(page(client, "/stations?status=active")) == ["开放中的站"]
    # By default the directory lists stations a rider can go to (issue 10, point 21);
    # status=all lists every public one.
    assert listed(page(client, "/stations")) == ["开放中的站"]
    everything = page(client, "/stations?status=all")
    assert sorted(listed(everything)) == sorted(["开放中的站", "已关的站", "暂停的站"])
    assert "已关闭" in everything and "暂停开放" in everything


def test_several_facility_checkboxes_require_all_of_them(client, fresh_db):
    make_station(fresh_db, name="只有饮水", facilities=["water"])
    make_station(fresh_db, name="饮水和微波炉", facilities=["water", "microwave"], lon=116.41)
    make_station(fresh_db, name="微波炉和厕所", facilities=["microwave", "toilet"], lon=116.42)

    assert sorted(listed(page(client, "/stations?facility=water"))) == ["只有饮水", "饮水和微波炉"]
    html = page(client, "/stations?facility=water&facility=microwave")
    assert listed(html) == ["饮水和微波炉"]
    # both boxes stay ticked, the other ones do not
    assert re.search(r'value="water"\s+checked', html)
    assert re.search(r'value="microwave"\s+checked', html)
    assert not re.search(r'value="toilet"\s+checked', html)
    assert listed(page(client, "/stations?facility=water&facility=toilet")) == []


def test_a_bad_facility_code_is_explained_in_chinese_not_a_crash(client, fresh_db):
    make_station(fresh_db, name="某站")
    html = page(client, "/stations?facility=bogus")  # 200, not 500
    message = alert_text(html)
    assert message is not None, "no error message shown"
    assert "bogus" in message
    # the interface speaks Chinese: the visitor must be able to read why
    assert CJK.search(message), f"error message is not Chinese: {message!r}"


def test_a_bad_page_number_is_not_a_crash(client, fresh_db):
    make_station(fresh_db, name="某站")
    html = page(client, "/stations?page=abc")
    assert alert_text(html) is not None


def test_paging(app, client, fresh_db):
    app.config["YIZHAN_PAGE_SIZE"] = 5
    for i in range(1, 8):
        make_station(fresh_db, name=f"分页站{i:02d}", lon=116.39 + i * 0.001)
    first = page(client, "/stations")
    assert listed(first) == [f"分页站{i:02d}" for i in range(1, 6)]
    assert "共 7 个站点" in first and "第 1 / 2 页" in first
    next_link = re.search(r'<a rel="next" href="([^"]+)">下一页</a>', first)
    assert next_link, "page 1 has no 下一页 link"
    assert "page=2" in next_link.group(1)
    assert "上一页" not in first

    second = page(client, next_link.group(1).replace("&amp;", "&"))
    assert listed(second) == ["分页站06", "分页站07"]
    assert "上一页" in second and "下一页" not in second


def test_paging_keeps_the_filters(app, client, fresh_db):
    app.config["YIZHAN_PAGE_SIZE"] = 2
    for i in range(1, 5):
        make_station(fresh_db, name=f"有厕所{i}", facilities=["toilet", "water"], lon=116.39 + i * 0.001)
    make_station(fresh_db, name="没厕所", facilities=["water"], lon=116.38)
    first = page(client, "/stations?facility=toilet&facility=water")
    href = re.search(r'<a rel="next" href="([^"]+)">', first).group(1).replace("&amp;", "&")
    assert "facility=toilet" in href and "facility=water" in href
    assert listed(page(client, href)) == ["有厕所3", "有厕所4"]


# --- what the public does not see ---------------------------------------------

def test_pending_stations_are_not_public(client, fresh_db):
    make_station(fresh_db, name="公开站")
    hidden = make_station(fresh_db, name="待审核的站", status="pending", lon=116.41)
    html = page(client, "/stations")
    assert listed(html) == ["公开站"] and "待审核的站" not in html
    assert "待审核的站" not in page(client, "/stations?q=待审核")
    # the status filter cannot be used to list them either
    assert "待审核的站" not in client.get("/stations?status=pending").get_data(as_text=True)
    assert client.get(f"/stations/{hidden}").status_code == 404
    assert client.get(f"/stations/{hidden}/map").status_code == 404


def test_unknown_station_is_404(client, fresh_db):
    assert client.get("/stations/999999").status_code == 404
    assert client.get("/stations/999999/map").status_code == 404


# --- the station page ------------------------------------------------------------

def test_station_page_shows_what_a_rider_needs(client, fresh_db):
    sid = make_station(fresh_db, name="建国门驿站", address="北京市东城区建国门内大街18号",
                       hours="Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00",
                       facilities=["water", "microwave", "charging", "toilet"],
                       awards=[{"title": "2021年北京市最美工会户外劳动者服务站点"}],
                       host_union="东城区总工会", subdistrict="建国门街道")
    html = page(client, f"/stations/{sid}")
    assert "<h1>建国门驿站</h1>" in html
    assert "北京市东城区建国门内大街18号" in html
    assert "周一至周五 08:00-20:00" in html and "周六、周日 09:00-17:00" in html
    assert "Mo-Fr" not in html  # the machine form is not shown to people
    assert re.search(r'class="open open-(True|False)">(营业中|已打烊)', html), \
        "no open/closed label"
    for label in ("饮水", "微波炉", "充电", "厕所"):
        assert f">{label}</span>" in html
    assert "2021年北京市最美工会户外劳动者服务站点" in html
    assert "东城区总工会" in html and "建国门街道" in html
    assert re.search(rf'<iframe[^>]+src="/stations/{sid}/map"', html)


def test_station_page_labels_for_24h_and_closed(client, fresh_db):
    always = make_station(fresh_db, name="全天站", hours="24/7")
    closed = make_station(fresh_db, name="关了的站", status="closed", lon=116.41)
    assert "24小时开放" in page(client, f"/stations/{always}")
    html = page(client, f"/stations/{closed}")
    assert re.search(r'class="tag status-closed">已关闭', html)
    assert html.count("已关闭") == 1  # said once (issue 10, point 13)
    assert "营业中" not in html


def test_station_map_uses_local_leaflet_and_the_station_point(app, client, fresh_db):
    app.config["YIZHAN_TILES"] = "osm"  # WGS-84 tiles: the stored point, unconverted
    sid = make_station(fresh_db, name="地图站", lon=116.3975, lat=39.9087)
    response = client.get(f"/stations/{sid}/map")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "39.9087" in html and "116.3975" in html
    assert "[39.9087, 116.3975]" in html  # folium order: [lat, lon]
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+href="([^"]+)"', html)
    # Our own Leaflet, under a content-versioned prefix (long-cached): /static/_v/<hash>/…
    assert any(re.fullmatch(r"/static/_v/[0-9a-f]{12}/vendor/leaflet/leaflet\.js", u) for u in scripts)
    assert any(re.fullmatch(r"/static/_v/[0-9a-f]{12}/vendor/leaflet/leaflet\.css", u) for u in styles)
    for url in scripts + styles:
        assert not re.match(r"(https?:)?//", url), f"loads {url} from another site"
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "code.jquery.com",
                "netdna.bootstrapcdn.com"):
        assert cdn not in html
    # the vendored files really are served
    with client.get("/static/vendor/leaflet/leaflet.js") as served:
        assert served.status_code == 200


def test_station_map_script_only_uses_libraries_it_loads(client, fresh_db):
    """A rider taps the marker: the popup must work, so no call into a library that is
    not on the page (folium's popups call jQuery's ``$``)."""
    sid = make_station(fresh_db, name="弹窗站")
    html = page(client, f"/stations/{sid}/map")
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    inline = "\n".join(re.findall(r"<script>(.*?)</script>", html, re.S))
    if re.search(r"(?<![\w.$])\$\(", inline):
        assert any("jquery" in s.lower() and s.startswith("/static/") for s in scripts), \
            "the map calls $(...) but jQuery is not loaded: the popup script fails"
    assert "弹窗站" in inline  # the name is on the map (popup/tooltip)


def test_synthetic_stations_are_labelled(client, fresh_db):
    fake = make_station(fresh_db, name="演示站", synthetic=True)
    real = make_station(fresh_db, name="正式站", lon=116.41)
    listing = page(client, "/stations")
    rows = re.findall(r'<li class="station">(.*?)</li>', listing, re.S)
    fake_row = next(r for r in rows if "演示站" in r)
    real_row = next(r for r in rows if "正式站" in r)
    assert "合成数据" in fake_row and "合成数据" not in real_row
    assert "合成数据" in page(client, f"/stations/{fake}")
    assert "合成数据" not in page(client, f"/stations/{real}")


def test_every_listed_station_links_to_its_page(client, fresh_db):
    ids = [make_station(fresh_db, name=f"链接站{i}", lon=116.39 + i * 0.001) for i in range(3)]
    html = page(client, "/stations")
    for sid in ids:
        assert f'href="/stations/{sid}"' in html
        assert page(client, f"/stations/{sid}").count(escape(f"链接站{ids.index(sid)}")) >= 1
