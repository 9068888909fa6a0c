"""The demo's union tree: a real-looking shape for synthetic stations.

北京市总工会 (or 中华全国总工会 for the China-wide demo) → one 区总工会 (省总工会) per
district → a few 街道工会 in the busiest districts → the grassroots unions that host the
demo's stations, each under its district's union or one of its street unions.  Every
union of the demo is labelled only by its name; the stations it hosts carry
``synthetic``.
"""

from __future__ import annotations

import zlib

from .names import name_key
from .store import UnionIndex, add_alias, add_union, move_union

__all__ = ["grassroots_name", "build_demo_tree", "ROOTS"]

ROOTS = {"beijing": ("北京市总工会", "municipal", ["北京市总", "北京总工会"]),
         "china": ("中华全国总工会", "national", ["全国总工会", "全总"])}

_PATTERNS = {
    "中国石化加油站": "中国石化{p}分公司工会", "中国石油加油站": "中国石油{p}分公司工会",
    "国家电网营业厅": "国网{p}供电公司工会", "供电所": "国网{p}供电公司工会",
    "工商银行": "工商银行{p}支行工会", "建设银行": "建设银行{p}支行工会",
    "农业银行": "农业银行{p}支行工会", "中国银行": "中国银行{p}支行工会",
    "北京银行": "北京银行{p}支行工会", "农商银行": "农商银行{p}支行工会",
    "社区党群服务中心": "{p}社区联合工会", "街道工会服务站": "{p}街道联合工会",
    "环卫所": "{p}环卫中心工会", "公交场站": "公交集团{p}分公司工会", "图书馆分馆": "{p}图书馆工会",
    "商务楼宇工会": "{p}商务楼宇联合工会", "园区工会": "{p}园区联合工会",
}
# Street unions of the busiest districts (real 街道 names).
_STREETS = {
    "东城区": ["东华门街道", "景山街道", "建国门街道"], "西城区": ["金融街街道", "什刹海街道"],
    "朝阳区": ["望京街道", "建外街道", "三里屯街道"], "海淀区": ["中关村街道", "学院路街道", "海淀街道"],
    "丰台区": ["卢沟桥街道", "方庄街道"], "通州区": ["潞城镇", "永顺镇"],
}


def grassroots_name(brand: str, district: str) -> str:
    """The grassroots union hosting a demo station of ``brand`` in ``district``."""
    place = district.removesuffix("区").removesuffix("市").removesuffix("省") if district else ""
    pattern = _PATTERNS.get(brand, f"{brand}{{p}}分公司工会")
    return pattern.format(p=place)


def _short(name: str) -> str | None:
    """A short name people also use: 顺丰速运朝阳分公司工会 → 顺丰速运朝阳工会."""
    return name[: -len("分公司工会")] + "工会" if name.endswith("分公司工会") else None


def build_demo_tree(db, records, *, region: str = "beijing", username: str = "demo") -> dict:
    """Add the tree the demo's ``records`` need (idempotent: existing unions are kept and
    placed if unplaced).  Each record's ``host_union`` is a district union
    (``{district}总工会``) or a grassroots union.  Returns counts."""
    index = UnionIndex(db)
    made = {"unions": 0}

    def ensure(name, *, parent, kind, aliases=()):
        found = index.resolve(name)
        if found is None:
            union_id = add_union(db, name, parent_id=parent, kind=kind, username=username)
            index.add(name_key(name), union_id, name)
            made["unions"] += 1
        else:
            union_id = found[0]
            row = db.execute("SELECT status, parent_id FROM unions WHERE id = ?", [union_id]).fetchone()
            if row[0] == "unplaced" and (parent is not None or row[1] is None) and union_id != parent:
                move_union(db, union_id, parent, kind=kind, username=username)
        for alias in aliases:
            if index.resolve(alias) is None:
                add_alias(db, union_id, alias, username=username)
                index.add(name_key(alias), union_id, alias)
        return union_id

    root_name, root_kind, root_aliases = ROOTS.get(region, ROOTS["beijing"])
    root = ensure(root_name, parent=None, kind=root_kind, aliases=root_aliases)
    district_kind = "district" if region == "beijing" else "provincial"
    districts = {}
    for district in sorted({r.get("district") for r in records if r.get("district")}):
        place = district.removesuffix("区").removesuffix("市").removesuffix("省")
        aliases = [f"{place}区工会"] if district.endswith("区") else []
        districts[district] = ensure(f"{district}总工会", parent=root, kind=district_kind, aliases=aliases)
    streets = {d: [ensure(f"{d}{s}工会", parent=districts[d], kind="street") for s in names]
               for d, names in _STREETS.items() if d in districts}
    for record in records:
        host, district = record.get("host_union"), record.get("district")
        if not host or district not in districts or index.resolve(host) is not None and \
                index.resolve(host)[0] in districts.values():
            continue
        under = streets.get(district) or [districts[district]]
        parent = under[zlib.crc32(host.encode()) % len(under)]
        short = _short(host)
        ensure(host, parent=parent, kind="grassroots", aliases=[short] if short else [])
    return made
