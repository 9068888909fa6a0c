"""Networks kept beside the database: ``networks/<key>/`` next to the database file.

Each network is a folder named by a hash of its name (names are Chinese, free text)
holding ``meta.json`` (name, file, when, extent, counts) and one ``<mode>.npz`` per mode
(the arrays of :class:`build.Network`).  An import builds into a temporary folder and
renames it into place, so a reader never sees half a network and two imports of one
name cannot both win.  Loaded graphs are cached per process, keyed by the folder and
its ``meta.json``'s modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .build import MODES, Network, NetworkError, build_networks
from .graph import StreetGraph

__all__ = ["networks_dir", "check_name", "import_network", "list_networks", "network_meta", "delete_network",
           "load_graph", "MODE_LABELS"]

MODE_LABELS = {"walk": "步行", "ebike": "电动自行车"}
_MAX_NAME = 40


def networks_dir(db_or_path) -> Path:
    """``networks/`` beside the database (a path or an open sqlite-utils Database)."""
    if hasattr(db_or_path, "execute"):
        db_or_path = db_or_path.execute("PRAGMA database_list").fetchone()[2]
    return Path(db_or_path).resolve().parent / "networks"


def _key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def check_name(folder: Path, name) -> str:
    """The name, trimmed; NetworkError('name') when it is blank, too long, odd or taken."""
    name = str(name or "").strip()
    if not name:
        raise NetworkError("请给道路网络起个名字（如“北京五环内”）", "name")
    if len(name) > _MAX_NAME or any(ord(c) < 32 for c in name):
        raise NetworkError(f"道路网络名称最多 {_MAX_NAME} 个字，且不能含控制字符", "name")
    if (Path(folder) / _key(name) / "meta.json").exists():
        raise NetworkError(f"已有名为“{name}”的道路网络：请换个名字，或先删除旧的", "name")
    return name


def import_network(folder, path, name: str, *, filename: str | None = None, progress=None) -> dict:
    """Build the networks of the extract at ``path`` and store them as ``name``; returns the meta."""
    folder = Path(folder)
    name = check_name(folder, name)
    folder.mkdir(parents=True, exist_ok=True)
    networks, info = build_networks(path, progress)
    partial = folder / f".{_key(name)}.{os.getpid()}.{time.monotonic_ns()}"
    partial.mkdir()
    try:
        for mode, net in networks.items():
            np.savez(partial / f"{mode}.npz", **net.arrays())
        meta = {"name": name, "filename": filename or Path(path).name,
                "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                "modes": list(networks), **info}
        (partial / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        try:
            partial.rename(folder / _key(name))
        except OSError:
            raise NetworkError(f"已有名为“{name}”的道路网络：请换个名字，或先删除旧的", "name") from None
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return meta


def list_networks(folder) -> list[dict]:
    """Every stored network's meta (without its extent ring), oldest first."""
    out = []
    for meta_path in sorted(Path(folder).glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append({k: v for k, v in meta.items() if k != "extent"})
    return sorted(out, key=lambda m: m.get("created_at", ""))


def network_meta(folder, name: str) -> dict:
    """The meta of network ``name``; NetworkError('network') naming the known ones when unknown."""
    path = Path(folder) / _key(str(name).strip()) / "meta.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = "、".join(m["name"] for m in list_networks(folder)) or "（还没有，请先导入）"
        raise NetworkError(f"没有名为“{name}”的道路网络；已有：{known}", "network") from None


def delete_network(folder, name: str) -> bool:
    """Remove network ``name``; False when there is none."""
    target = Path(folder) / _key(str(name).strip())
    if not (target / "meta.json").exists():
        return False
    trash = target.with_name(f".deleted.{target.name}.{time.monotonic_ns()}")
    target.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
    with _LOCK:
        for key in [k for k in _GRAPHS if k[0] == str(target)]:
            del _GRAPHS[key]
    return True


_GRAPHS: dict = {}
_LOCK = threading.Lock()


def load_graph(folder, name: str, mode: str) -> StreetGraph:
    """The routing graph of network ``name`` for ``mode`` (walk, ebike), cached per process."""
    meta = network_meta(folder, name)
    if mode not in meta.get("modes", MODES):
        raise NetworkError(f"道路网络“{meta['name']}”没有{MODE_LABELS.get(mode, mode)}道路", "mode")
    target = Path(folder) / _key(meta["name"])
    stamp = (target / "meta.json").stat().st_mtime_ns
    key = (str(target), mode)
    cached = _GRAPHS.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    with np.load(target / f"{mode}.npz") as arrays:
        net = Network(**{k: arrays[k] for k in arrays.files})
    graph = StreetGraph(net, meta)
    with _LOCK:
        if len(_GRAPHS) > 8:
            _GRAPHS.clear()
        _GRAPHS[key] = (stamp, graph)
    return graph
