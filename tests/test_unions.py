"""Unions as records (issue 16): names, aliases, the tree, the CLI and the migration."""

from __future__ import annotations

import json

import pytest

from stations import storage
from stations.accounts import users
from stations.storage.migrations import MIGRATIONS
from stations.storage.migrations.unions import m014_unions
from stations.unions import store
from stations.unions.names import UnionError, name_key
from stations.unions.scope import Scope, in_scope, scope_of, scope_sql


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def _tree(db):
    city = store.add_union(db, "北京市总工会", kind="municipal", aliases=["北京市总"])
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    haidian = store.add_union(db, "海淀区总工会", parent_id=city, kind="district")
    wangjing = store.add_union(db, "朝阳区望京街道工会", parent_id=chaoyang, kind="street")
    sf = store.add_union(db, "顺丰速运工会", parent_id=wangjing, aliases=["顺丰工会"])
    sf_bj = store.add_union(db, "顺丰速运工会（北京分公司）", parent_id=sf)
    hd_shop = store.add_union(db, "物美海淀分公司工会", parent_id=haidian)
    return dict(city=city, chaoyang=chaoyang, haidian=haidian, wangjing=wangjing, sf=sf, sf_bj=sf_bj,
                hd_shop=hd_shop)


def test_names_resolve_across_bracket_width_and_spaces_and_aliases_never_by_guess(fresh_db):
    t = _tree(fresh_db)
    for spelling in ("顺丰速运工会(北京分公司)", " 顺丰速运工会 （北京分公司） ", "顺丰速运工会［北京分公司］"):
        assert store.find_union(fresh_db, spelling)["id"] == t["sf_bj"]
    assert store.find_union(fresh_db, "顺丰工会")["id"] == t["sf"]  # alias
    assert store.find_union(fresh_db, "北京市 总")["id"] == t["city"]
    assert store.find_union(fresh_db, "顺丰速运") is None  # close is not equal
    with pytest.raises(UnionError) as refused:
        store.require_union(fresh_db, "顺丰速运工会（朝阳分公司）")
    assert "是否指" in str(refused.value) and "顺丰速运工会" in str(refused.value)


def test_a_name_or_alias_belongs_to_one_union(fresh_db):
    t = _tree(fresh_db)
    with pytest.raises(UnionError) as taken:
        store.add_union(fresh_db, "朝阳区总工会 ", parent_id=t["city"])
    assert taken.value.status == 409 and "朝阳区总工会" in str(taken.value)
    with pytest.raises(UnionError) as alias:
        store.add_alias(fresh_db, t["haidian"], "顺丰工会")
    assert alias.value.status == 409 and "顺丰速运工会" in str(alias.value)


def test_conflict_follows_the_tree_below_the_organiser(fresh_db):
    t = _tree(fresh_db)
    line = lambda r, s, org=t["city"]: store.on_one_line(fresh_db, r, s, organiser=org)  # noqa: E731
    assert line(t["sf_bj"], t["sf"]) and line(t["sf"], t["sf_bj"])   # a branch and its company
    assert line(t["chaoyang"], t["sf"])                              # a district and its grassroots
    assert line(t["wangjing"], t["sf_bj"])
    assert not line(t["haidian"], t["sf"])                           # another district
    assert not line(t["city"], t["sf"])                              # the organiser itself
    assert not line(None, t["sf"])                                   # an outside expert
    assert line(t["sf"], t["sf"], None)                              # no organiser: same union
    assert not line(t["city"], t["sf"], None)                        # no organiser: city at the top


def test_scope_of_users_and_its_sql(fresh_db):
    t = _tree(fresh_db)
    stray = store.add_union(fresh_db, "某某公司工会", status="unplaced")
    ids = {}
    for name, union in (("a", t["sf"]), ("b", t["hd_shop"]), ("c", t["chaoyang"]), ("d", stray), ("e", None)):
        ids[name] = storage.create_station(fresh_db, {"name": f"站{name}", "lon": 116.4, "lat": 39.9,
                                                      "host_union_id": union})
    users.add_user(fresh_db, "cy_admin", "pass-word-1", "admin", "朝阳区总工会")
    users.add_user(fresh_db, "city_admin", "pass-word-1", "admin", "北京市总")
    users.add_user(fresh_db, "sf_staff", "pass-word-1", "union", "顺丰工会")

    def visible(username):
        scope = scope_of(fresh_db, users.get_user(fresh_db, username))
        clause, params = scope_sql(scope, "host_union_id")
        return {r[0] for r in fresh_db.execute(f"SELECT name FROM stations WHERE 1{clause}", params)}

    assert visible("city_admin") == {"站a", "站b", "站c", "站d", "站e"}
    assert visible("cy_admin") == {"站a", "站c"}
    assert visible("sf_staff") == {"站a"}
    cy = scope_of(fresh_db, users.get_user(fresh_db, "cy_admin"))
    assert in_scope(fresh_db, cy, t["sf_bj"]) and not in_scope(fresh_db, cy, t["hd_shop"])
    assert not in_scope(fresh_db, cy, None) and not in_scope(fresh_db, cy, stray)
    assert isinstance(cy, Scope) and cy.name == "朝阳区总工会"


def test_station_writes_keep_the_union_id_and_one_spelling(fresh_db):
    t = _tree(fresh_db)
    sid = storage.create_station(fresh_db, {"name": "站", "lon": 116.4, "lat": 39.9,
                                            "host_union": "顺丰速运工会(北京分公司)"})
    station = storage.get_station(fresh_db, sid)
    assert station["host_union_id"] == t["sf_bj"] and station["host_union"] == "顺丰速运工会（北京分公司）"
    storage.update_station(fresh_db, sid, {"host_union": "从未见过的工会"})
    station = storage.get_station(fresh_db, sid)
    new = store.get_union(fresh_db, station["host_union_id"])
    assert new["name"] == "从未见过的工会" and new["status"] == "unplaced"


def test_merge_moves_everything_and_keeps_the_old_name_as_an_alias(fresh_db):
    t = _tree(fresh_db)
    dup = store.add_union(fresh_db, "顺丰速运有限公司工会", status="unplaced")
    sid = storage.create_station(fresh_db, {"name": "站", "lon": 116.4, "lat": 39.9, "host_union_id": dup})
    users.add_user(fresh_db, "staff", "pass-word-1", "union", "顺丰速运有限公司工会")
    counts = store.merge_unions(fresh_db, dup, t["sf"], username="org")
    assert counts["stations"] == 1 and counts["users"] == 1
    assert storage.get_station(fresh_db, sid)["host_union"] == "顺丰速运工会"
    assert users.get_user(fresh_db, "staff")["union_id"] == t["sf"]
    assert store.find_union(fresh_db, "顺丰速运有限公司工会")["id"] == t["sf"]
    assert store.union_log(fresh_db)[0]["action"] == "merge"
    with pytest.raises(UnionError):
        store.merge_unions(fresh_db, t["chaoyang"], t["sf"])  # into its own descendant
    with pytest.raises(UnionError):
        store.move_union(fresh_db, t["chaoyang"], t["sf_bj"])  # under its own descendant


def test_cli_union_commands_and_user_add_resolution(cli, db_path):
    assert cli("union", "add", "北京市总工会", "--kind", "municipal").exit_code == 0
    out = cli("union", "add", "朝阳区总工会", "--parent", "北京市总工会", "--kind", "district",
              "--alias", "朝阳区工会")
    assert out.exit_code == 0, out.output
    assert cli("union", "add", "顺丰速运工会").exit_code == 0
    assert cli("union", "move", "顺丰速运工会", "--parent", "朝阳区工会").exit_code == 0
    assert cli("union", "alias", "顺丰速运工会", "顺丰工会").exit_code == 0
    listed = json.loads(cli("union", "list", "--json").output)
    by_name = {u["name"]: u for u in listed}
    assert set(by_name["顺丰速运工会"]) == {"id", "name", "aliases", "kind", "parent_id", "status"}
    assert by_name["顺丰速运工会"]["parent_id"] == by_name["朝阳区总工会"]["id"]
    assert by_name["顺丰速运工会"]["aliases"] == ["顺丰工会"] and by_name["顺丰速运工会"]["status"] == "active"
    tree = cli("union", "list").output
    assert tree.index("北京市总工会") < tree.index("  朝阳区总工会") < tree.index("    顺丰速运工会")

    bad = cli("user", "add", "li", "--role", "union", "--union", "顺丰速运工会（北京分公司）",
              "--password-stdin", input="long-enough-pw\n")
    assert bad.exit_code == 1 and "不存在" in bad.output and "是否指“顺丰速运工会”" in bad.output
    ok = cli("user", "add", "li", "--role", "union", "--union", "顺丰工会", "--password-stdin",
             input="long-enough-pw\n")
    assert ok.exit_code == 0, ok.output
    user = users.get_user(storage.connect(db_path), "li")
    assert user["union_name"] == "顺丰速运工会" and user["union_id"] == by_name["顺丰速运工会"]["id"]
    merged = cli("union", "merge", "北京市总工会", "顺丰工会")
    assert merged.exit_code == 1 and "下级" in merged.output


def test_migration_turns_free_text_unions_into_records_and_loses_nothing(tmp_path):
    db = storage.connect(tmp_path / "old.db")
    storage.migrate(db, target=MIGRATIONS.index(m014_unions))  # the version before unions
    assert "unions" not in db.table_names()
    stamp = "2026-01-01T00:00:00+08:00"
    for i, union in enumerate(["顺丰速运工会（北京分公司）", "顺丰速运工会(北京分公司)", " 朝阳区总工会", None, "朝阳区总工会"]):
        db["stations"].insert({"name": f"站{i}", "lon": 116.4, "lat": 39.9, "host_union": union,
                               "created_at": stamp, "updated_at": stamp})
    db["users"].insert({"username": "sf", "password_hash": "x", "role": "union",
                        "union_name": "顺丰速运工会 (北京分公司)", "created_at": stamp})
    db["users"].insert({"username": "org", "password_hash": "x", "role": "admin", "union_name": None,
                        "created_at": stamp})
    before = {r["id"]: r for r in db.query("SELECT * FROM stations")}
    storage.migrate(db)
    unions = store.list_unions(db)
    assert sorted(u["name"] for u in unions) == ["朝阳区总工会", "顺丰速运工会（北京分公司）"]
    assert all(u["status"] == "unplaced" and u["parent_id"] is None for u in unions)
    assert {u["name"]: u["kind"] for u in unions}["朝阳区总工会"] == "district"
    after = {r["id"]: r for r in db.query("SELECT * FROM stations")}
    assert set(after) == set(before)
    sf = store.find_union(db, "顺丰速运工会（北京分公司）")["id"]
    assert [after[i]["host_union_id"] for i in sorted(after)] == [sf, sf, after[3]["host_union_id"], None,
                                                                  after[3]["host_union_id"]]
    staff = users.get_user(db, "sf")
    assert staff["union_id"] == sf
    assert all(users.speaks_for(staff, after[i]) for i in (1, 2))
    assert not users.speaks_for(staff, after[3])
    org = users.get_user(db, "org")
    assert scope_of(db, org).everything
    assert name_key(after[1]["host_union"]) == name_key("顺丰速运工会(北京分公司)")


def test_demo_builds_a_real_looking_tree(cli, db_path):
    assert cli("demo", "--stations", "300", "--no-users").exit_code == 0
    db = storage.connect(db_path)
    unions = {u["name"]: u for u in store.list_unions(db)}
    city = unions["北京市总工会"]
    districts = [u for u in unions.values() if u["kind"] == "district"]
    assert city["parent_id"] is None and len(districts) >= 10
    assert all(d["parent_id"] == city["id"] and d["name"].endswith("区总工会") for d in districts)
    assert any(u["kind"] == "street" for u in unions.values())
    assert not [n for n in unions if "工会工会" in n]
    assert all(u["status"] == "active" for u in unions.values())
    orphans = db.execute("SELECT count(*) FROM stations WHERE host_union_id IS NULL").fetchone()[0]
    assert orphans == 0
    # every station's union lies under its district's union
    for sid, district, union_id in db.execute("SELECT id, district, host_union_id FROM stations"):
        line = store.ancestor_ids(db, union_id)
        assert unions[f"{district}总工会"]["id"] in line, (sid, district)
