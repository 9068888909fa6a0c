"""Docs that cannot drift: every setting and every command is in the README."""

import re
from pathlib import Path

from stations.settings import SETTINGS
from stations.cli import register_commands
from stations.web import create_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_command_is_documented(tmp_path):
    app = register_commands(create_app({"YIZHAN_DB": str(tmp_path / "d.db"), "YIZHAN_SECRET_KEY": "x"}))
    names = []
    for name, command in app.cli.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"yizhan {name} {s}" for s in sub] if sub else [f"yizhan {name}"]
    assert {"yizhan import", "yizhan user add", "yizhan ledger import", "yizhan coverage"} <= set(names)
    missing = [n for n in names if f"`{n}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_api_route_is_in_the_openapi_document(tmp_path):
    app = create_app({"YIZHAN_DB": str(tmp_path / "d.db"), "YIZHAN_SECRET_KEY": "x"})
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            documented = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            assert documented in paths, rule.rule
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in paths[documented], (rule.rule, method)
