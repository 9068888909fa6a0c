"""Uploaded photos: refused by their structure, or decoded and re-encoded elsewhere.

What arrives is bytes someone chose (a nomination's photos).  Nothing here decodes
them inside the web worker:

- :mod:`.structure` — the format and framing, read without a decoder: JPEG scans,
  PNG and WebP chunks; refuses a "scan bomb" in milliseconds;
- :mod:`.sandbox` — runs the decoder in a child process with CPU, memory and
  wall-clock limits, one at a time per server process;
- :mod:`.child` — that child (``python -m stations.photos.child``): Pillow decodes,
  applies EXIF orientation, converts to sRGB, and re-encodes pixels only (no EXIF,
  comment, ICC, XMP or text chunk survives);
- :mod:`.errors` — ``PhotoRefused``, with a Chinese message.

Neither Flask nor the database is imported here; Pillow only in the child.
"""

from .errors import PhotoRefused
from .sandbox import DecodeLimits, run_child
from .structure import MAX_JPEG_SCANS, check_structure, jpeg_scans, jpeg_segments, sniff

__all__ = ["MAX_JPEG_SCANS", "DecodeLimits", "PhotoRefused", "check_structure", "jpeg_scans", "jpeg_segments",
           "run_child", "sniff"]
