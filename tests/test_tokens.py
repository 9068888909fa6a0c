"""The union role and per-user API tokens (migration m008)."""

from __future__ import annotations

from stations import storage
from stations.accounts import users
from tests.conftest import PASSWORDS


def _token(runner, name, *extra):
    result = runner.invoke(args=["user", "token", name, *extra])
    assert result.exit_code == 0, result.output
    return result.output.split()[-1]


def test_bearer_token_from_the_cli_works_without_csrf_and_revoked_is_401(client, runner):
    token = _token(runner, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/stations", json={"name": "令牌驿站", "lon": 116.40, "lat": 39.91,
                                                  "district": "东城区"}, headers=headers)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert client.post("/api/v1/stations", json={"name": "无令牌", "lon": 116.40, "lat": 39.91}).status_code == 401
    wrong = client.post("/api/v1/stations", json={"name": "x"}, headers={"Authorization": "Bearer yz_forged"})
    assert wrong.status_code == 401
    result = runner.invoke(args=["user", "token", "admin", "--revoke"])
    assert result.exit_code == 0 and "撤销" in result.output
    assert client.post("/api/v1/stations", json={"name": "撤销后", "lon": 116.40, "lat": 39.91},
                       headers=headers).status_code == 401


def test_a_new_token_replaces_the_old_and_only_its_hash_is_stored(app, client, runner, db_path):
    first = _token(runner, "planner")
    second = _token(runner, "planner")
    db = storage.connect(db_path)
    stored = [r[0] for r in db.execute("SELECT id FROM api_tokens")]
    db.conn.close()
    assert len(stored) == 1 and first not in stored and second not in stored
    ok = client.get("/api/v1/coverage?minutes=5", headers={"Authorization": f"Bearer {second}"})
    old = client.get("/api/v1/coverage?minutes=5", headers={"Authorization": f"Bearer {first}"})
    assert ok.status_code == 200 and old.status_code == 401


def test_union_users_need_their_union(runner):
    missing = runner.invoke(args=["user", "add", "jd", "--role", "union", "--password-stdin"],
                            input="union-pass-1\n")
    assert missing.exit_code != 0 and "--union" in missing.output
    unknown = runner.invoke(args=["user", "add", "jd", "--role", "union", "--union", "东城区总工会",
                                  "--password-stdin"], input="union-pass-1\n")
    assert unknown.exit_code == 1 and "不存在" in unknown.output
    assert runner.invoke(args=["union", "add", "东城区总工会", "--kind", "district"]).exit_code == 0
    made = runner.invoke(args=["user", "add", "jd", "--role", "union", "--union", "东城区总工会",
                               "--password-stdin"], input="union-pass-1\n")
    assert made.exit_code == 0 and "基层工会" in made.output


def test_m008_keeps_users_and_their_sessions(tmp_path):
    db = storage.connect(tmp_path / "old.db")
    storage.migrate(db, 7)
    users.add_user(db, "admin", PASSWORDS["admin"], "admin")
    token = users.start_session(db, users.get_user(db, "admin")["id"], hours=1)
    storage.migrate(db)
    assert users.session_user(db, token)["username"] == "admin"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    users.add_user(db, "dc", "union-pass-1", "union", "东城区总工会", create_union=True)
    assert users.get_user(db, "dc")["role"] == "union"
    # deleting a user still ends its sessions (the foreign key survived the rebuild)
    db.execute("DELETE FROM users WHERE username = 'admin'")
    assert users.session_user(db, token) is None
    db.conn.close()


def _works(client, token):
    return client.get("/api/v1/coverage?minutes=5", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_password_change_revokes_the_api_token(client, runner, fresh_db):
    token = _token(runner, "planner")
    assert _works(client, token) == 200
    result = runner.invoke(args=["user", "passwd", "planner", "--password-stdin"], input="a-new-password-2\n")
    assert result.exit_code == 0, result.output
    assert "撤销了 1 个 API 令牌" in result.output
    assert _works(client, token) == 401
    assert fresh_db.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 0
    assert _works(client, _token(runner, "planner")) == 200  # a new one may be issued


def test_a_role_change_revokes_the_api_token(client, runner):
    token = _token(runner, "admin")
    other = _token(runner, "planner")
    made = client.post("/api/v1/stations", json={"name": "令牌驿站", "lon": 116.40, "lat": 39.91},
                       headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201
    result = runner.invoke(args=["user", "role", "admin", "planner"])
    assert result.exit_code == 0 and "撤销了 1 个 API 令牌" in result.output, result.output
    refused = client.post("/api/v1/stations", json={"name": "降级之后", "lon": 116.41, "lat": 39.91},
                          headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert _works(client, other) == 200  # another user's token is untouched
