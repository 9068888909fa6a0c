"""What a photo's bytes claim to be, read without decoding it: format and structure.

Everything here walks the file's own framing (JPEG marker segments, PNG chunks, RIFF
chunks) with ``bytes.find``, a regular expression and ``struct``, never Pillow, so it
runs inside the web worker in a few milliseconds whatever was uploaded.  Its one job
is to refuse, before any decoder sees them, files whose structure asks a decoder for
work no photo needs: the "scan bomb" (a progressive JPEG of thousands of tiny scans,
each of which makes libjpeg walk every block of the image again) above all.
"""

from __future__ import annotations

import re
import struct

from .errors import PhotoRefused

__all__ = ["MAX_JPEG_SCANS", "MAX_JPEG_SEGMENTS", "MAX_PNG_CHUNKS", "MAX_WEBP_CHUNKS", "check_structure",
           "jpeg_scans", "jpeg_segments", "sniff"]

# Scans (SOS segments) one JPEG may have.  A baseline JPEG has 1.  A progressive one
# from libjpeg/libjpeg-turbo (jpeg_simple_progression, what Pillow, phones and most
# editors write) has 10 for colour and 6 for grey, 18 for four-component CMYK;
# mozjpeg's scan optimisation picks from its candidate scripts and writes about 10-20.
# 40 leaves twice the largest of those.  Past it every extra scan costs libjpeg a pass
# over all the image's blocks (about 8 ms each at 36 Mpx here) and buys nothing.
MAX_JPEG_SCANS = 40
# Marker segments before the scans and between them: a photo has a few APPn, DQT, DHT
# and one SOF, plus a DHT or two per scan; ICC profiles split into 64 KB APP2 chunks
# add at most 80 in 5 MB.  The cap keeps this walk itself short on crafted files.
MAX_JPEG_SEGMENTS = 1000
# PNG chunks: encoders write IDAT in 8-64 KB chunks (a 5 MB file: under 700 of them)
# plus a handful of others; Pillow reads each chunk in Python.
MAX_PNG_CHUNKS = 10_000
# WebP: a still image has 1-4 chunks; an animation one per frame.
MAX_WEBP_CHUNKS = 1000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Inside entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), 0xD0-0xD7
# (a restart marker, part of the scan) or more 0xFF (fill); anything else is the
# marker that ends the scan.  One byte of look-ahead: no backtracking, linear time.
_END_OF_SCAN = re.compile(rb"\xff[^\x00\xff\xd0-\xd7]")
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
_SOS, _EOI, _SOI = 0xDA, 0xD9, 0xD8


def sniff(data: bytes) -> str | None:
    """The format the bytes start with: "JPEG", "PNG", "WEBP", another name the
    refusal can quote ("GIF", "BMP", "TIFF", "HEIC"), or None if unknown."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"avif"):
        return "AVIF" if data[8:12] == b"avif" else "HEIC"
    return None


def _next_marker(data: bytes, pos: int) -> int:
    """Position of the 0xFF of the next marker at or after ``pos`` (-1: none).

    As libjpeg does between segments: skip bytes that are not 0xFF (it warns about
    "extraneous bytes" and carries on, so a count must carry on too), skip fill
    0xFF and stuffed 0xFF00."""
    match = _END_OF_SCAN.search(data, pos)
    return -1 if match is None else match.start()


def jpeg_segments(data: bytes, *, limit: int | None = None):
    """Yield ``(marker, start, end)`` for each marker of a JPEG, as a decoder meets them.

    ``marker`` is the byte after 0xFF (0xDA for SOS, 0xE1 for APP1, ...), ``start``
    the position of its 0xFF, ``end`` where its segment (length included) ends.  A
    segment is skipped by its length, so a JPEG inside one (the EXIF thumbnail in
    APP1) is not walked; after SOS the entropy-coded data is skipped up to the next
    marker that is not a restart (RSTn).  Stops at EOI, at the end of the data, or
    after ``limit`` markers.
    """
    if not data.startswith(b"\xff\xd8"):
        return
    yield _SOI, 0, 2
    pos, seen = 2, 1
    while limit is None or seen < limit:
        pos = _next_marker(data, pos)
        if pos < 0:
            return
        marker = data[pos + 1]
        seen += 1
        if marker in _STANDALONE or marker == _SOI:
            yield marker, pos, pos + 2
            pos += 2
            continue
        if marker == _EOI:
            yield marker, pos, pos + 2
            return
        if pos + 4 > len(data):
            return
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            return  # truncated: libjpeg stops here too ("premature end of data")
        yield marker, pos, end
        pos = end


def jpeg_scans(data: bytes, *, stop_after: int = MAX_JPEG_SCANS) -> int:
    """How many scans (SOS segments) a JPEG has, counting up to ``stop_after`` + 1.

    The markers are walked as a decoder walks them (see ``jpeg_segments``), so SOS
    bytes inside an APP segment or inside entropy-coded data do not count.
    """
    scans = 0
    for marker, _, _ in jpeg_segments(data, limit=MAX_JPEG_SEGMENTS + stop_after):
        if marker == _SOS:
            scans += 1
            if scans > stop_after:
                break
    return scans


def _check_jpeg(data: bytes) -> None:
    scans = segments = 0
    for marker, _, _ in jpeg_segments(data, limit=MAX_JPEG_SEGMENTS + MAX_JPEG_SCANS + 1):
        segments += 1
        if marker == _SOS:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise PhotoRefused(f"是分了 {MAX_JPEG_SCANS} 遍以上扫描的渐进式 JPEG（正常照片最多 20 遍左右），"
                                   "解码太费时，不能接收；请用相机或修图软件另存为普通 JPEG 后再上传")
    if segments > MAX_JPEG_SEGMENTS + MAX_JPEG_SCANS:
        raise PhotoRefused(f"的 JPEG 结构异常（超过 {MAX_JPEG_SEGMENTS} 个标记段），不能接收；"
                           "请另存为普通 JPEG 后再上传")


def _check_png(data: bytes) -> None:
    pos, chunks = len(_PNG_SIGNATURE), 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise PhotoRefused(f"的 PNG 结构异常（超过 {MAX_PNG_CHUNKS} 个数据块），不能接收；"
                               "请另存为普通 PNG 或 JPEG 后再上传")
        if kind == b"IEND":
            return
        pos += 12 + length


def _check_webp(data: bytes) -> None:
    pos, chunks = 12, 0
    while pos + 8 <= len(data):
        length = struct.unpack_from("<I", data, pos + 4)[0]
        chunks += 1
        if chunks > MAX_WEBP_CHUNKS:
            raise PhotoRefused(f"的 WebP 结构异常（超过 {MAX_WEBP_CHUNKS} 个数据块，像是很长的动图），不能接收；"
                               "请上传一张普通照片")
        pos += 8 + length + (length & 1)


def check_structure(data: bytes) -> str:
    """The photo's format ("JPEG", "PNG" or "WEBP") if its structure is one a decoder
    may be given; raises PhotoRefused otherwise (another format, or a structure
    built to make decoding slow)."""
    kind = sniff(data)
    if kind is None:
        raise PhotoRefused("不是能打开的 JPEG、PNG 或 WebP 图片")
    if kind not in ("JPEG", "PNG", "WEBP"):
        raise PhotoRefused(f"的格式是 {kind}，只收 JPEG、PNG 或 WebP")
    {"JPEG": _check_jpeg, "PNG": _check_png, "WEBP": _check_webp}[kind](data)
    return kind
