"""A synthetic demo dataset: realistic, reproducible, and labelled synthetic everywhere.

Points are drawn inside real district boundaries (geodata), denser in the urban
core: a mixture of Gaussian clusters around real centres plus a thin uniform
background, rejected when they fall outside the region.  Names, addresses, hours
and facilities are drawn from realistic pools.  Every record has ``synthetic``
set, and names end in nothing that would pass for a real station's listing.
"""

from __future__ import annotations

import numpy as np

from geodata import districts as geo

from .records import FACILITIES
from ..unions.demo import build_demo_tree, grassroots_name
from ..storage import insert_stations, write_transaction

__all__ = ["DEMO_USERS", "generate_stations", "load_demo"]

DEMO_USERS = {
    "admin": ("yizhan-admin", "admin", "北京市总工会"),
    "reviewer": ("yizhan-review", "reviewer", "海淀区总工会"),
    "planner": ("yizhan-planner", "planner", None),
}

# (lon, lat, weight, sigma km) of Beijing's centres of activity, WGS-84.
_BEIJING_CENTRES = [
    (116.397, 39.909, 10, 7.0),   # 天安门 / the old city
    (116.460, 39.920, 6, 5.0),    # CBD, 国贸
    (116.316, 39.984, 6, 5.0),    # 中关村
    (116.470, 40.000, 4, 4.0),    # 望京
    (116.287, 39.858, 3, 4.0),    # 丰台
    (116.656, 39.909, 3, 4.0),    # 通州副中心
    (116.231, 40.220, 2, 4.0),    # 昌平
    (116.655, 40.130, 2, 4.0),    # 顺义
    (116.338, 39.728, 2, 4.0),    # 大兴黄村
    (116.143, 39.748, 1.5, 4.0),  # 房山良乡
    (116.223, 39.906, 1.5, 3.0),  # 石景山
    (116.102, 39.940, 0.8, 3.0),  # 门头沟
    (116.637, 40.316, 0.8, 3.0),  # 怀柔
    (117.121, 40.141, 0.8, 3.0),  # 平谷
    (116.843, 40.376, 0.8, 3.0),  # 密云
    (115.985, 40.465, 0.6, 3.0),  # 延庆
]
# (lon, lat, weight) of China's large cities, WGS-84 (weight ~ urban population, millions).
_CHINA_CITIES = [
    (116.40, 39.90, 21), (121.47, 31.23, 24), (113.26, 23.13, 18), (114.06, 22.54, 17),
    (104.07, 30.57, 16), (106.55, 29.56, 16), (120.16, 30.27, 12), (114.30, 30.59, 12),
    (108.94, 34.34, 12), (117.20, 39.13, 13), (118.80, 32.06, 9), (113.62, 34.75, 12),
    (112.94, 28.23, 10), (120.38, 36.07, 10), (123.43, 41.80, 9), (117.00, 36.65, 9),
    (113.12, 23.02, 9), (120.30, 31.57, 7), (119.30, 26.08, 8), (102.71, 25.04, 8),
    (125.32, 43.82, 9), (126.53, 45.80, 10), (117.28, 31.86, 9), (115.86, 28.68, 6),
    (106.63, 26.65, 6), (108.37, 22.82, 8), (112.55, 37.87, 5), (114.51, 38.04, 11),
    (111.75, 40.84, 3), (87.62, 43.83, 4), (103.83, 36.06, 4), (101.78, 36.62, 2),
    (106.23, 38.49, 2), (91.11, 29.65, 1), (110.35, 20.02, 3), (121.61, 38.91, 7),
    (121.55, 29.87, 9), (120.58, 31.30, 12), (113.75, 23.02, 10), (120.70, 28.00, 9),
    (118.09, 24.48, 5), (119.95, 31.78, 5), (116.99, 34.26, 9), (113.65, 34.76, 2),
    (117.12, 36.20, 5), (118.35, 35.05, 10), (114.35, 36.10, 5), (112.45, 34.62, 7),
    (111.30, 30.70, 4), (112.24, 30.33, 5),
]
_BRANDS = ["中国邮政", "顺丰速运", "京东物流", "中通快递", "中国石化加油站", "中国石油加油站",
           "国家电网营业厅", "工商银行", "建设银行", "农业银行", "中国银行", "北京银行",
           "农商银行", "物美超市", "社区党群服务中心", "街道工会服务站", "环卫所", "公交场站",
           "供电所", "图书馆分馆", "商务楼宇工会", "园区工会"]
_ROADS = ["建设路", "人民路", "中山路", "解放路", "和平街", "朝阳路", "光华路", "幸福大街",
          "学院路", "文化路", "长安街", "新华街", "工人路", "复兴路", "育才路", "团结路",
          "金融街", "东大街", "西大街", "南大街", "北大街", "胜利路", "青年路", "花园路",
          "滨河路", "科技路", "创业路", "振兴路", "民主路", "建国路"]
_SUFFIX = [("职工暖心驿站", "warm_station", 5), ("户外劳动者服务站", "union_station", 3),
           ("工会驿站", "union_station", 2), ("职工之家", "workers_home", 1)]
_HOURS = [("24/7", 0.07), ("Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00", 0.38),
          ("Mo-Su 08:00-20:00", 0.2), ("Mo-Fr 09:00-17:00", 0.12),
          ("Mo-Su 07:00-22:00", 0.1), ("Mo-Fr 08:30-11:30,13:30-17:30", 0.08),
          ("Mo-Su 06:00-22:00", 0.05)]
_FACILITY_P = {"water": 0.95, "charging": 0.85, "microwave": 0.7, "fridge": 0.5, "toilet": 0.55,
               "rest_area": 0.9, "first_aid": 0.75, "rain_gear": 0.5, "tyre_inflation": 0.4,
               "epidemic_supplies": 0.4, "books": 0.35, "wifi": 0.45, "battery_swap": 0.05,
               "meals": 0.08, "legal_aid": 0.1, "haircut": 0.03, "heating": 0.3, "cooling": 0.3,
               "repair": 0.15}
_STATUS_P = [("active", 0.93), ("temporarily_closed", 0.04), ("closed", 0.02), ("pending", 0.01)]
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红玉兰志文斌海波宁欣怡晨阳雪梅琳峰鹏"


def _sample_points(n, region, rng):
    """n points inside the region, clustered around real centres."""
    locator = geo.locator(region)
    if region == "china":
        centres = np.array([(lon, lat, w, 12.0) for lon, lat, w in _CHINA_CITIES])
    else:
        centres = np.array(_BEIJING_CENTRES)
    weights = centres[:, 2] / centres[:, 2].sum()
    minlon, minlat, maxlon, maxlat = geo.region_bounds(region)
    lons, lats, names = [], [], []
    need = n
    while need > 0:
        batch = int(need * 1.6) + 64
        background = rng.random(batch) < (0.12 if region == "beijing" else 0.03)
        which = rng.choice(len(centres), size=batch, p=weights)
        sigma_deg = centres[which, 3] / 111.0
        lon = centres[which, 0] + rng.normal(size=batch) * sigma_deg / np.cos(np.radians(centres[which, 1]))
        lat = centres[which, 1] + rng.normal(size=batch) * sigma_deg
        lon = np.where(background, rng.uniform(minlon, maxlon, batch), lon)
        lat = np.where(background, rng.uniform(minlat, maxlat, batch), lat)
        found = locator.locate_many(lon, lat)
        inside = geo.in_china_many(lon, lat)  # coasts: city polygons and outline differ a little
        keep = [i for i, name in enumerate(found) if name is not None and inside[i]][:need]
        lons += [float(lon[i]) for i in keep]
        lats += [float(lat[i]) for i in keep]
        names += [found[i] for i in keep]
        need = n - len(lons)
    return lons, lats, names


def generate_stations(n: int = 3000, *, seed: int = 2021, region: str = "beijing") -> list[dict]:
    """Synthetic station records (WGS-84), the same for the same (n, seed, region).

    Examples
    --------
    >>> rows = generate_stations(5, seed=1)
    >>> len(rows), all(r["synthetic"] for r in rows)
    (5, True)
    """
    rng = np.random.default_rng(seed)
    lons, lats, districts = _sample_points(n, region, rng)
    hours_texts, hours_p = zip(*_HOURS)
    statuses, status_p = zip(*_STATUS_P)
    suffix_w = np.array([s[2] for s in _SUFFIX], dtype=float)
    records = []
    for i in range(n):
        brand = _BRANDS[rng.integers(len(_BRANDS))]
        road = _ROADS[rng.integers(len(_ROADS))]
        suffix, station_type, _ = _SUFFIX[rng.choice(len(_SUFFIX), p=suffix_w / suffix_w.sum())]
        district = districts[i]
        place = district.removesuffix("区").removesuffix("市") if district else ""
        hours = hours_texts[rng.choice(len(hours_texts), p=hours_p)]
        facilities = [code for code, p in _FACILITY_P.items() if rng.random() < p]
        if hours == "24/7":
            facilities.append("vending_24h")
        city = "北京市" if region == "beijing" else ""
        records.append({
            "name": f"{brand}{place}{road}{suffix}（合成）",
            "address": f"{city}{district}{road}{int(rng.integers(1, 300))}号",
            "district": district,
            "lon": round(lons[i], 6),
            "lat": round(lats[i], 6),
            "host_union": f"{district}总工会" if rng.random() < 0.5 else grassroots_name(brand, district),
            "manager": _SURNAMES[rng.integers(len(_SURNAMES))]
                       + "".join(_GIVEN[j] for j in rng.integers(len(_GIVEN), size=rng.integers(1, 3))),
            "manager_phone": "1" + str(rng.choice([3, 5, 8])) + "".join(
                str(d) for d in rng.integers(0, 10, size=9)),
            "station_type": station_type,
            "hours": hours,
            "facilities": [c for c in FACILITIES if c in set(facilities)],
            "status": statuses[rng.choice(len(statuses), p=status_p)],
            "synthetic": True,
            "district_declared": district,
            "district_mismatch": False,
        })
    _separate(records)
    return records


def _separate(records):
    """Make the data pass the importer's duplicate checks, as a real list would: no two
    stations at the same point, no two of one name within 50 m (export, then import)."""
    from scipy.spatial import cKDTree

    from .validation import DUPLICATE_RADIUS_M, SAME_POINT_M, lonlat_to_xyz

    for _ in range(20):
        xyz = lonlat_to_xyz([r["lon"] for r in records], [r["lat"] for r in records])
        changed = False
        for a, b in sorted(cKDTree(xyz).query_pairs(DUPLICATE_RADIUS_M)):
            first, second = records[a], records[b]
            if np.linalg.norm(xyz[a] - xyz[b]) < 2 * SAME_POINT_M:
                second["lon"] = round(second["lon"] + 0.0001, 6)  # ~9 m east: next door
                changed = True
            elif first["name"] == second["name"]:
                second["name"] = second["name"].replace("（合成）", f"{b % 9 + 2}号点（合成）")
                changed = True
        if not changed:
            return


def load_demo(db, records, *, replace: bool = False, username: str = "demo",
              region: str = "beijing") -> int:
    """Store generated records (one transaction) and the union tree they need; with
    ``replace``, synthetic ones go first."""
    with write_transaction(db):
        if replace:
            db.execute("DELETE FROM stations WHERE synthetic = 1")
        build_demo_tree(db, records, region=region, username=username)
        return len(insert_stations(db, records, username=username, action="demo"))
