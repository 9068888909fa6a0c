"""Feedback limits: one client cannot use up everyone's budget, nor outvote a station alone."""

import threading
from datetime import datetime

import pytest
from werkzeug.datastructures import MultiDict

from stations import storage
from stations.riders.feedback import recent_feedback, satisfaction, submit_feedback
from stations.accounts.limits import Limit, RateLimited, take
from stations.storage import TZ
from tests.conftest import csrf_token, make_station


@pytest.fixture
def station(fresh_db):
    return make_station(fresh_db, name="评分站", hours="24/7")


def poster(app, station_id):
    client = app.test_client()
    token = csrf_token(client, f"/stations/{station_id}")

    def post(address, **data):
        return client.post(f"/stations/{station_id}/feedback", data={"csrf_token": token, **data},
                           environ_base={"REMOTE_ADDR": address})
    return post


def test_one_clients_refused_posts_leave_the_global_budget_to_others(app, station):
    post = poster(app, station)
    codes = [post("10.0.0.1", rating="5").status_code for _ in range(125)]
    assert codes == [302] * 5 + [429] * 120  # per client: 5 in 10 minutes
    for n in range(1, 4):  # global: 120 a minute, of which 5 are used
        assert post(f"10.0.1.{n}", rating="4").status_code == 302


def test_the_global_limit_still_holds_for_accepted_submissions(db_path, fresh_db, station):
    from stations.web import create_app
    app = create_app({"YIZHAN_DB": str(db_path), "YIZHAN_SECRET_KEY": "k",
                      "YIZHAN_FEEDBACK_GLOBAL": 3, "YIZHAN_FEEDBACK_PER_CLIENT": 1})
    post = poster(app, station)
    codes = [post("10.0.0.1", rating="3").status_code for _ in range(10)]
    codes += [post(f"10.0.2.{n}", rating="3").status_code for n in range(4)]
    assert codes == [302] + [429] * 9 + [302, 302, 429, 429]
    refused = post("10.0.3.1", rating="3")
    assert "提交的人太多了" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0


def test_a_clients_429_says_when_to_come_back(app, station):
    post = poster(app, station)
    for _ in range(5):
        post("10.0.0.1", rating="5")
    refused = post("10.0.0.1", rating="5")
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 1200
    assert "提交太频繁了" in refused.get_data(as_text=True)


def test_four_one_star_ratings_from_one_client_count_once(app, station, fresh_db):
    post = poster(app, station)
    assert post("10.0.0.1", rating="4").status_code == 302
    for _ in range(4):
        assert post("10.0.0.2", rating="1").status_code == 302
    # before: (4 + 1 + 1 + 1 + 1) / 5 = 1.6; one client's day counts once
    assert satisfaction(fresh_db, station) == {"mean": 2.5, "count": 2}
    page = app.test_client().get(f"/stations/{station}").get_data(as_text=True)
    assert "骑手评分 2.5 / 5（2 人评价）" in page
    assert fresh_db.execute("SELECT count(*) FROM feedback").fetchone()[0] == 5  # all kept


def at(day, hour):
    return datetime(2026, 6, day, hour, 0, tzinfo=TZ)


def rate(db, station, client, stars, when):
    return submit_feedback(db, station, MultiDict({"rating": str(stars)}), client=client,
                           limits={"per_client": 100, "global": 1000}, at=when)


def test_the_days_latest_rating_counts_and_the_next_day_counts_again(fresh_db, station):
    rate(fresh_db, station, "a", 4, at(1, 9))
    rate(fresh_db, station, "b", 1, at(1, 10))
    rate(fresh_db, station, "b", 5, at(1, 11))  # b changed their mind: 5 replaces 1
    assert satisfaction(fresh_db, station) == {"mean": 4.5, "count": 2}
    rate(fresh_db, station, "b", 3, at(2, 8))  # a new day is a new visit
    assert satisfaction(fresh_db, station) == {"mean": 4.0, "count": 3}
    assert satisfaction(fresh_db)[station] == {"mean": 4.0, "count": 3}
    assert [r["rating"] for r in recent_feedback(fresh_db, station)] == [3, 5, 1, 4]


def test_the_day_is_the_beijing_date(fresh_db, station):
    from datetime import timezone
    # 23:30 and 00:30 Beijing time on two dates, sent as UTC times of one UTC date
    rate(fresh_db, station, "b", 1, datetime(2026, 6, 1, 15, 30, tzinfo=timezone.utc))
    rate(fresh_db, station, "b", 5, datetime(2026, 6, 1, 16, 30, tzinfo=timezone.utc))
    assert satisfaction(fresh_db, station) == {"mean": 3.0, "count": 2}


def test_clients_are_counted_without_their_address(app, station, fresh_db):
    post = poster(app, station)
    post("198.51.100.23", rating="5")
    stored = fresh_db.execute("SELECT client FROM feedback").fetchall()
    buckets = fresh_db.execute("SELECT bucket FROM rate_limits").fetchall()
    text = repr(stored) + repr(buckets)
    assert stored[0][0] and "198.51.100.23" not in text


def test_a_refused_take_counts_in_no_bucket(fresh_db):
    rules = [Limit("client:x", 1, 600, "client"), Limit("global", 10, 60, "global")]
    take(fresh_db, rules, now=1000.0)
    for _ in range(5):
        with pytest.raises(RateLimited) as refused:
            take(fresh_db, rules, now=1001.0)
        assert refused.value.scope == "client"
    counts = dict(fresh_db.execute("SELECT bucket, sum(count) FROM rate_limits GROUP BY bucket"))
    assert counts == {"client:x": 1, "global": 1}


def test_check_and_count_are_one_step_across_connections(db_path, fresh_db):
    # Eight workers, each with its own connection, race for 20 places.
    rules = [Limit("client:race", 20, 600, "client")]
    outcomes, errors = [], []

    def worker():
        db = storage.connect(db_path)
        try:
            for _ in range(10):
                try:
                    take(db, rules, now=5000.0)
                    outcomes.append("taken")
                except RateLimited:
                    outcomes.append("refused")
        except Exception as exc:  # a lock error would land here
            errors.append(exc)
        finally:
            db.conn.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert outcomes.count("taken") == 20 and outcomes.count("refused") == 60
