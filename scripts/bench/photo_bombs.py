#!/usr/bin/env python
"""Crafted photos for benchmarks and tests: JPEGs that are slow to decode, and friends.

``scan_bomb_jpeg(scans=20000)`` is a progressive JPEG of ``scans`` tiny scans (11
bytes each) declaring a 6000×6000 image: about 220 KB, under the 5 MB and 40 Mpx
checks, yet libjpeg walks every block of the image once per scan (about 8 ms each
here), so decoding it takes minutes.  It is the upload that once held both web
workers (issue 14); the photo checks now refuse it by counting its scans.

    from photo_bombs import scan_bomb_jpeg        # with scripts/bench on sys.path
    .venv/bin/python scripts/bench/photo_bombs.py bomb.jpg --scans 20000

Also ``with_exif_thumbnail(jpeg, thumbnail)`` (a JPEG whose APP1 EXIF block holds
another JPEG, as cameras write) and ``with_segment(jpeg, marker, payload)`` (insert
a COM or APPn segment after SOI).  Only Pillow is needed, to write the 16×16 start.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys

__all__ = ["progressive_jpeg", "scan_bomb_jpeg", "with_exif_thumbnail", "with_segment"]

# One more AC refinement scan of the luma component (Ss=1, Se=63, Ah=1, Al=0) with a
# single byte of entropy-coded data.  libjpeg warns that the progression is bogus
# and that data ended early, and still walks every block of the image for it.
_EXTRA_SCAN = b"\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x10\x00"


def progressive_jpeg(size: tuple[int, int] = (16, 16), colour=(200, 30, 30)) -> bytes:
    """A real progressive JPEG as Pillow (libjpeg) writes it: 10 scans."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", progressive=True, quality=85)
    return out.getvalue()


def _set_size(jpeg: bytes, size: tuple[int, int]) -> bytes:
    """The JPEG with its frame header (SOF2) declaring ``size`` (width, height)."""
    data = bytearray(jpeg)
    sof = data.index(b"\xff\xc2")
    data[sof + 5:sof + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(data)


def scan_bomb_jpeg(scans: int = 20000, size: tuple[int, int] = (6000, 6000)) -> bytes:
    """A progressive JPEG of ``scans`` scans in all (the 10 real ones included)
    declaring ``size`` pixels; decoding costs about one pass over the image per scan."""
    base = progressive_jpeg()
    assert base.endswith(b"\xff\xd9")
    extra = max(0, scans - base.count(b"\xff\xda"))
    return _set_size(base[:-2], size) + _EXTRA_SCAN * extra + b"\xff\xd9"


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """The JPEG with one more segment (e.g. 0xFE COM, 0xE1 APP1) right after SOI."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def with_exif_thumbnail(jpeg: bytes, thumbnail: bytes) -> bytes:
    """The JPEG with an APP1 EXIF block whose IFD1 carries ``thumbnail`` (a whole JPEG,
    SOS markers and all), laid out as cameras write it."""
    # TIFF header, IFD0 with no entries pointing on to IFD1 (JPEGInterchangeFormat
    # and its length), then the thumbnail's bytes.
    ifd1 = 8 + 2 + 4
    data_at = ifd1 + 2 + 2 * 12 + 4
    tiff = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<HI", 0, ifd1)
            + struct.pack("<H", 2)
            + struct.pack("<HHII", 0x0201, 4, 1, data_at)
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))
            + struct.pack("<I", 0) + thumbnail)
    return with_segment(jpeg, 0xE1, b"Exif\x00\x00" + tiff)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a scan-bomb JPEG (see the module docstring).")
    parser.add_argument("out", help="file to write")
    parser.add_argument("--scans", type=int, default=20000)
    parser.add_argument("--size", default="6000x6000", help="declared WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.lower().split("x"))
    data = scan_bomb_jpeg(args.scans, (width, height))
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"{args.out}: {len(data)} bytes, {args.scans} scans, {width}×{height}", file=sys.stderr)


if __name__ == "__main__":
    main()
