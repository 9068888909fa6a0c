"""What the core campaign tests share (test_campaign_stages.py, test_campaign_assignment.py,
test_campaign_ranking.py): a ``world`` of an organiser, six reviewers of three unions, a union
account and nine stations, and helpers that create a campaign and bring its nominees to review.

A test file takes the fixture as a module attribute (``world = campaign_support.world``).
"""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.accounts import users
from tests.conftest import make_station

UNIONS = ["东城区总工会", "西城区总工会", "海淀区总工会"]


def _user(db, name, role, union=None):
    users.add_user(db, name, "password-123", role, union, create_union=True)
    return users.get_user(db, name)


@pytest.fixture
def world(fresh_db):
    db = fresh_db
    admin = _user(db, "org", "admin")
    revs = [_user(db, f"r{i}", "reviewer", UNIONS[i % 3]) for i in range(6)]
    union_user = _user(db, "dc", "union", UNIONS[0])
    stations = [make_station(db, name=f"驿站{i}", host_union=UNIONS[i % 3], lon=116.39 + i * 0.001)
                for i in range(9)]
    return db, admin, revs, union_user, stations


def _campaign(db, admin, **over):
    data = {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 3,
            "subsidy_yuan": 20000, "reviewers_per_station": 2, **over}
    return cp.create_campaign(db, data, admin)


def _to_review(db, admin, stations, cid):
    for sid in stations:
        cp.nominate(db, cid, {"station_id": sid, "reason": "服务好，骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="推荐截止")


def _rubric_keys():
    return [c["key"] for c in cp.default_rubric()["criteria"]]
