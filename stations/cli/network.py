"""``yizhan network import|list|delete``: street networks from OpenStreetMap extracts (issue 19).

A network is stored beside the database (``networks/``); ``yizhan coverage --network NAME``
and ``GET /api/v1/coverage?network=NAME`` measure along its streets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..networks import NetworkError, delete_network, import_network, list_networks, networks_dir

__all__ = ["COMMANDS"]


def _folder():
    return networks_dir(current_app.config["YIZHAN_DB"])


@click.group("network")
def network_group():
    """Street networks (walking, e-bike) from OpenStreetMap .osm.pbf extracts."""


@network_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="", help="The network's name (default: the file's name).")
@with_appcontext
def network_import(file, name):
    """Build the walking and e-bike networks of an .osm.pbf extract and store them."""
    if not file.is_file():
        raise click.ClickException(f"找不到文件“{file}”")
    name = name.strip() or file.name.split(".")[0]
    with click.progressbar(length=4, label="读取道路", file=sys.stderr) as bar:
        done = [0]

        def progress(step, total):
            bar.update(step - done[0])
            done[0] = step

        try:
            meta = import_network(_folder(), file, name, filename=file.name, progress=progress)
        except NetworkError as exc:
            raise click.ClickException(f"未导入：{exc.message}") from None
    segs = "，".join(f"{'步行' if m == 'walk' else '电动自行车'} {meta['segments'][m]:,} 段 {meta['km'][m]:g} 公里"
                    for m in meta["modes"])
    click.echo(f"已导入道路网络“{meta['name']}”：{segs}；范围约 {meta['extent_km2']:g} 平方公里。")


@network_group.command("list")
@with_appcontext
def network_list():
    """List the stored street networks."""
    networks = list_networks(_folder())
    if not networks:
        click.echo("还没有道路网络：用 yizhan network import 文件.osm.pbf 导入。")
    for meta in networks:
        segments = meta.get("segments", {})
        click.echo(f"{meta['name']}\t步行 {segments.get('walk', 0):,} 段\t电动自行车 {segments.get('ebike', 0):,} 段\t"
                   f"{meta.get('extent_km2', 0):g} km²\t{meta.get('created_at', '')}\t{meta.get('filename', '')}")


@network_group.command("delete")
@click.argument("name")
@with_appcontext
def network_delete(name):
    """Delete a street network."""
    if not delete_network(_folder(), name):
        raise click.ClickException(f"没有名为“{name}”的道路网络")
    click.echo(f"已删除道路网络“{name}”。")


COMMANDS = (network_group,)
