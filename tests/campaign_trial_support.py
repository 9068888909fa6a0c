"""What the issue 17 campaign tests share: a world of reviewers, a union and stations,
and helpers to create, review and score campaigns through the API."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.accounts import tokens, users
from tests.conftest import csrf_token, make_station

UNIONS = ["东城区总工会", "西城区总工会", "海淀区总工会"]


@pytest.fixture
def world(app, fresh_db):
    db = fresh_db
    for i in range(6):
        users.add_user(db, f"rv{i}", "review-pass-1", "reviewer", UNIONS[i % 3], create_union=True)
    users.add_user(db, "dc", "union-pass-1", "union", UNIONS[0], create_union=True)
    stations = [make_station(db, name=f"驿站{i}", host_union=UNIONS[i % 3], lon=116.39 + i * 0.001)
                for i in range(6)]
    keys = {name: tokens.issue_token(db, users.get_user(db, name)["id"])
            for name in ["admin", "reviewer", "dc"] + [f"rv{i}" for i in range(6)]}
    return {"db": db, "stations": stations, "tokens": keys, "admin": users.get_user(db, "admin")}


def bearer(world, name):
    return {"Authorization": f"Bearer {world['tokens'][name]}"}


BODY = {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 2, "subsidy_yuan": 30000,
        "reviewers_per_station": 2}


def _create(client, world, **over):
    answer = client.post("/api/v1/campaigns", json={**BODY, **over}, headers=bearer(world, "admin"))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def _in_review(world):
    db = world["db"]
    cid = cp.create_campaign(db, {**BODY}, world["admin"])
    for sid in world["stations"][:3]:
        cp.nominate(db, cid, {"station_id": sid, "reason": "骑手常来。"}, world["admin"])
    cp.advance_stage(db, cid, "review", world["admin"], reason="截止")
    pairs = cp.assign_reviewers(db, cid, world["admin"])
    return cid, pairs


def _scored(world, totals, items=None):
    """A campaign in review whose nominees get these scores (every criterion) from each
    reviewer, and these ticked items ({station index: [item keys]})."""
    db = world["db"]
    cid, pairs = _in_review(world)
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    order = world["stations"][:3]
    for a in pairs:
        at = order.index(a["station_id"])
        cp.save_review(db, cid, a["station_id"], {"scores": {k: totals[at] for k in keys}, "submit": True,
                                                  "items": (items or {}).get(at, [])},
                       users.get_user(db, a["reviewer"]))
    return cid


def storage_host(db, station_id):
    from stations import storage

    return storage.get_station(db, station_id)["host_union"]


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def _login(client, name, password):
    assert client.post("/login", data={"username": name, "password": password,
                                       "csrf_token": csrf_token(client)}).status_code == 302


def _labels_outside(svg: str) -> list[str]:
    """Labels of a radar SVG that reach outside its viewBox (widths as radar.text_width)."""
    import re
    from html import unescape

    from stations.campaign.radar import text_width

    left, top, width, height = (float(v) for v in re.search(r'viewBox="([^"]+)"', svg).group(1).split())
    out = []
    for m in re.finditer(r'<text x="([-\d.]+)" y="([-\d.]+)" font-size="(\d+)"(?: text-anchor="(\w+)")?>([^<]*)</text>', svg):
        x, y, size, anchor, text = float(m.group(1)), float(m.group(2)), float(m.group(3)), m.group(4) or "start", unescape(m.group(5))
        w = text_width(text, size)
        start = {"start": x, "end": x - w, "middle": x - w / 2}[anchor]
        if start < left or start + w > left + width or y - size < top or y > top + height:
            out.append(text)
    return out
