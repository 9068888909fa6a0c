"""Map text is inert: Jinja and JavaScript delimiters in station data never execute.

branca compiles the script of every element as a Jinja template a second time, and
folium puts tooltip text in JavaScript template literals; a station name is data
that an admin form, the API or any imported spreadsheet can set.
"""

import html as htmllib
import os
import re

import pytest

from stations import maps
from tests.conftest import make_station

# Jinja (expressions, statements, comments, raw blocks), JavaScript template literals,
# script breakouts and line separators, alone and mixed.
CORPUS = [
    "{{7*7}}",
    "{{ 7*'7' }}",
    "{{lipsum.__globals__.os.popen('id').read()}}",
    "{{ config }}{{ self }}",
    "{% raw %}",
    "{% endraw %}{{7*7}}",
    "{% for x in range(3) %}X{% endfor %}",
    "{#",
    "#}{# comment",
    "{%",
    "}}",
    "${7*7}",
    "`+alert(1)+`",
    "a\\`b\\${c}",
    "</script><script>alert(1)</script>",
    "\u2028line\u2029sep",
    "{{'{{'}}}}",
]


def _map(client, db, name, address="{{7*7}}地址"):
    sid = make_station(db, name=name, address=address)
    response = client.get(f"/stations/{sid}/map")
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("name", CORPUS)
def test_station_map_shows_hostile_name_literally(client, fresh_db, name):
    status, page = _map(client, fresh_db, name)
    assert status == 200, page[-500:]
    # The name is on the map, as inert text that reads back as the original.
    assert maps.safe_label(name) in page
    assert htmllib.unescape(maps.safe_label(name)) == name
    # Nothing Jinja would see, nothing a template literal would interpret.
    tooltip = re.search(r"bindTooltip\(\s*`(.*?)`", page, re.S).group(1)
    for token in ("{", "}", "$", "`", "<script", "</script"):
        assert token not in tooltip, (token, tooltip)


def test_template_expressions_are_not_evaluated(client, fresh_db):
    status, page = _map(client, fresh_db, "站{{7*7}}站", address="{{ 6*9 }}号")
    assert status == 200
    assert "站49站" not in page and "54号" not in page
    assert "站&#123;&#123;7*7&#125;&#125;站" in page


def test_server_commands_do_not_run_from_a_name(client, fresh_db):
    marker = f"pwned-{os.getpid()}"
    name = "{{lipsum.__globals__.os.popen('echo " + marker + "').read()}}"
    status, page = _map(client, fresh_db, name)
    assert status == 200
    assert marker + "\n" not in page and "uid=" not in page
    assert f"echo {marker}" in htmllib.unescape(page)  # shown as the text it is


@pytest.mark.parametrize("tiles", ["osm", "amap"])
def test_every_tile_choice_is_safe(tmp_path, fresh_db, db_path, tiles):
    from stations.web import create_app

    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                      "YIZHAN_SECRET_KEY": "k", "YIZHAN_TILES": tiles})
    for name in CORPUS:
        status, page = _map(app.test_client(), fresh_db, name)
        assert status == 200, name
        tooltip = re.search(r"bindTooltip\(\s*`\s*<div>\s*(.*?)<br>", page, re.S).group(1)
        assert htmllib.unescape(tooltip) == name


def test_safe_properties_reaches_nested_data():
    data = {"name": "{{7*7}}", "items": ["${x}", {"k": "`"}], "n": 3, "{k}": None}
    out = maps.safe_properties(data)
    assert out == {"name": "&#123;&#123;7*7&#125;&#125;", "items": ["&#36;&#123;x&#125;",
                   {"k": "&#96;"}], "n": 3, "&#123;k&#125;": None}
