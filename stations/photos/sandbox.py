"""Decode a photo in a separate, limited process, never in the web worker.

A web worker is a gevent event loop: CPU spent decoding inside it pauses every other
request of that worker (two crafted 279 KB JPEGs once held both workers for 50 s).
Here the worker only starts ``python -m stations.photos.child`` and waits for it;
gevent's monkey-patched ``subprocess`` waits cooperatively, so riders' requests go on
meanwhile.  The child limits its own CPU time and address space and runs at a lower
priority; the wait has a wall-clock timeout after which the child is killed.

At most ``DECODERS_PER_PROCESS`` children run at once per server process (photos of
one request are decoded one after another).  With one per worker, decoding never
uses more cores than there are workers, nor more than a gigabyte per worker; a burst
of uploads queues instead (nominations are few), and a photo that waits longer than
its own wall-clock limit for a place is refused as "busy" (503).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import PhotoRefused

__all__ = ["DECODERS_PER_PROCESS", "DecodeLimits", "run_child", "too_complex"]

DECODERS_PER_PROCESS = 1
# The directory that holds the ``stations`` package: the child imports it from there
# even when the project is not installed.
_ROOT = Path(__file__).resolve().parents[2]
_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


@dataclass(frozen=True)
class DecodeLimits:
    """What decoding one photo may cost.

    Here a 36 Mpx photo decodes and re-encodes in 2.5 s (progressive JPEG) to 5 s
    (RGBA PNG, its optimised re-encoding) of CPU and under 512 MB of address space;
    the limits leave room for a slower machine and a photo turned by its EXIF
    orientation (one more copy of the pixels).  The wall clock allows for the
    child's lower priority on a busy server.
    """

    cpu_seconds: int = 15
    memory_mb: int = 1024
    wall_seconds: float = 45.0


def too_complex(limits: DecodeLimits) -> str:
    """The refusal of a photo whose decoding passed ``limits`` (follows the photo's name)."""
    return (f"解码超时/太复杂（超过 {limits.cpu_seconds} 秒或 {limits.memory_mb} MB 内存），不能接收；"
            "请缩小尺寸或另存为普通 JPEG 后再上传")


def _decoder_slots() -> threading.BoundedSemaphore:
    # Made on first use, after gunicorn's gevent worker has monkey-patched threading,
    # so waiting for a place yields to other requests.
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(DECODERS_PER_PROCESS)
        return _slots


def run_child(data: bytes, limits: DecodeLimits, max_bytes: int) -> tuple[bytes, str, str, int, int]:
    """(bytes, extension, content type, width, height) of the photo re-encoded by the
    child process; raises PhotoRefused (unreadable, too many pixels, too complex, busy)."""
    command = [sys.executable, "-m", "stations.photos.child", "--cpu-seconds", str(int(limits.cpu_seconds)),
               "--memory-mb", str(int(limits.memory_mb)), "--max-bytes", str(int(max_bytes))]
    slots = _decoder_slots()
    if not slots.acquire(timeout=limits.wall_seconds):
        raise PhotoRefused("暂时无法处理：服务器正在处理很多照片，请稍后再试", 503)
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=limits.wall_seconds,
                              cwd=_ROOT, check=False)
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise PhotoRefused(too_complex(limits)) from None
    except OSError:  # no process could be started (out of processes or memory)
        raise PhotoRefused("暂时无法处理：服务器忙，请稍后再试", 503) from None
    finally:
        slots.release()
    head, _, blob = done.stdout.partition(b"\n")
    try:
        answer = json.loads(head) if done.returncode == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # killed by its CPU limit (SIGXCPU), out of memory (MemoryError), or crashed
        raise PhotoRefused(too_complex(limits))
    if "refused" in answer:
        raise PhotoRefused(str(answer["refused"]))
    return blob, answer["ext"], answer["content_type"], int(answer["width"]), int(answer["height"])
