"""Messages a person reads are Chinese: the account commands, the API's 404 and a bad datum."""

from __future__ import annotations

import re

import pytest

from geodata.datum import DatumError, parse_datum

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("args, expected", [
    (["user", "add", "x", "--role", "planner", "--password-stdin"], "用户名“x”不可用"),
    (["user", "add", "planner2", "--role", "planner", "--password-stdin"], "密码太短"),
    (["user", "add", "staff", "--role", "union", "--password-stdin"], "须指明它代表的工会"),
    (["user", "add", "admin", "--role", "admin", "--password-stdin"], "用户 admin 已存在"),
    (["user", "passwd", "nobody", "--password-stdin"], "没有用户 nobody"),
])
def test_account_commands_answer_in_chinese(runner, args, expected):
    password = "short\n" if "planner2" in args else "long-enough-1\n"
    result = runner.invoke(args=args, input=password)
    assert result.exit_code != 0
    assert expected in result.output, result.output


def test_a_station_the_api_does_not_have_is_named_in_chinese(client):
    answer = client.get("/api/v1/stations/987654")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["message"] == "没有编号为 987654 的站点"


def test_an_unknown_datum_says_which_ones_exist_in_chinese():
    with pytest.raises(DatumError) as refused:
        parse_datum("mercator")
    message = str(refused.value)
    assert "mercator" in message and "gcj02" in message and HAN.search(message)
