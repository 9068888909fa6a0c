"""The process that decodes and re-encodes one photo: ``python -m stations.photos.child``.

It reads the upload on stdin and writes one JSON line, then the re-encoded bytes, on
stdout: ``{"ext", "content_type", "width", "height"}`` and the image, or
``{"refused": message}`` and nothing.  Before it reads anything it limits itself:
CPU seconds (past them the kernel ends it with SIGXCPU), address space (Pillow's
allocations then fail with MemoryError), no core files, and a lower priority, so the
web workers keep the CPU when a photo is heavy.  The parent (``sandbox``) adds a
wall-clock timeout and treats any other ending as "too complex".

What is stored is pixels only.  Colours in another profile (a phone's Display P3) are
converted to sRGB, then every piece of metadata is left behind: EXIF (GPS tags),
comments (JPEG COM), ICC profiles, XMP, PNG text chunks.  The JPEG written has one
APP0 (JFIF, written by libjpeg itself) and no other APPn or COM segment.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import warnings

from .errors import PhotoRefused

__all__ = ["LONGEST_SIDE", "MAX_PIXELS", "limit_self", "main", "reencode"]

MAX_PIXELS = 40_000_000
LONGEST_SIDE = 2560
_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
_UNREADABLE = "不是能打开的 JPEG、PNG 或 WebP 图片"


def limit_self(cpu_seconds: int, memory_mb: int) -> None:
    """Limit this process: CPU seconds, address space in MB, no core dump, nice 10."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    os.nice(10)


def _to_srgb(image):
    """The pixels in sRGB if the image carries another ICC profile; unchanged if it
    has none or the profile cannot be read (the profile is dropped either way)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "L", "CMYK"):
        return image
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


def reencode(data: bytes) -> tuple[dict, bytes]:
    """(description, bytes) of the photo re-encoded as pixels only; raises PhotoRefused."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(_FORMATS))
            kind = "JPEG" if image.format == "MPO" else image.format  # MPO: a phone's JPEG with extra frames
            if image.width * image.height > MAX_PIXELS:
                raise PhotoRefused(f"像素太多（{image.width}×{image.height}）")
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_srgb(image)
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise PhotoRefused(_UNREADABLE) from None
    image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    # Leave every piece of metadata behind (Pillow writes image.info["comment"] and,
    # for PNG, image.info["icc_profile"] back out when saving); a palette's transparent
    # index is part of the pixels.
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    ext, content_type = _FORMATS[kind]
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif kind == "PNG":
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=85)
    return {"ext": ext, "content_type": content_type, "width": image.width, "height": image.height}, out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stations.photos.child",
                                     description="Re-encode one photo read on stdin (used by the web app).")
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--max-bytes", type=int, required=True)
    args = parser.parse_args(argv)
    limit_self(args.cpu_seconds, args.memory_mb)
    data = sys.stdin.buffer.read(args.max_bytes + 1)
    try:
        if len(data) > args.max_bytes:
            raise PhotoRefused(_UNREADABLE)
        head, blob = reencode(data)
    except PhotoRefused as exc:
        head, blob = {"refused": exc.message}, b""
    # A MemoryError or anything unforeseen ends the process with a traceback on
    # stderr and a non-zero status: the parent refuses the photo as too complex.
    sys.stdout.buffer.write(json.dumps(head, ensure_ascii=False).encode() + b"\n" + blob)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
