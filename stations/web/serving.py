"""What every answer carries: security headers, compression, long-cached versioned static files.

Security headers
    A Content-Security-Policy that allows scripts only from our own files
    (``script-src 'self'``): the templates keep their JavaScript in static/*.js, and
    a template that needs an inline script gives it ``nonce="{{ csp_nonce() }}"``.
    Folium/branca map pages (``MAP_PAGES``) are made of inline scripts; each of them
    is allowed by its SHA-256 hash, so an injected event handler or ``javascript:``
    URL still cannot run.  Styles may be inline (style attributes; CSS runs no code).
    Pages may be framed only by this site (``frame-ancestors 'self'`` and
    ``X-Frame-Options: SAMEORIGIN``: the station page frames its map), plus
    ``nosniff`` and a Referrer-Policy that sends map apps our origin only.

Compression
    Flask-Compress answers brotli or gzip, as the client asks, for text types
    (pages, JSON, CSS, JS, SVG, CSV, GeoJSON), static files included.

Static files
    ``url_for('static', filename=…)`` adds ``?v=<content hash>`` to a file's URL, and
    a directory prefix (``vendor/leaflet/``, for folium pages that append file names)
    becomes ``/static/_v/<hash of all static files>/vendor/leaflet/``.  A request
    whose version is the current one is cached for a year (``immutable``); any
    other gets ``no-cache``.  A changed file changes its URL.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from pathlib import Path

from flask import abort, current_app, g, request, send_from_directory
from flask_compress import Compress
from werkzeug.security import safe_join

__all__ = ["MAP_PAGES", "init_app", "static_version"]

YEAR = 365 * 24 * 3600
VERSIONED = "_v"
# Endpoints that answer a folium/branca page (inline scripts, allowed by hash).
MAP_PAGES = frozenset({"directory.station_map", "plan.plan_map", "plan.job_map"})

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: https:",  # map tiles (OpenStreetMap, Amap) over HTTPS
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}
HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
}
COMPRESS_MIMETYPES = ["text/html", "text/css", "text/plain", "text/csv", "text/javascript",
                      "application/javascript", "application/json", "application/geo+json",
                      "image/svg+xml"]
_INLINE_SCRIPT = re.compile(r"<script(\s[^>]*)?>(.*?)</script\s*>", re.S | re.I)

compress = Compress()
_file_versions: dict[str, tuple[int, int, str]] = {}


# --- static files --------------------------------------------------------------------

def _file_version(path: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256 (cached while size and mtime hold)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    cached = _file_versions.get(path)
    if cached and cached[:2] == (st.st_mtime_ns, st.st_size):
        return cached[2]
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError:  # a directory, or unreadable
        return None
    _file_versions[path] = (st.st_mtime_ns, st.st_size, digest)
    return digest


def _tree_version(folder: str) -> str:
    """One hash over every static file's name and content hash."""
    h = hashlib.sha256()
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            h.update(f"{os.path.relpath(path, folder)}\0{_file_version(path)}\n".encode())
    return h.hexdigest()[:12]


def static_version(filename: str) -> str | None:
    """The version of a static file (or of the whole tree, for a directory prefix)."""
    folder = current_app.static_folder
    if filename.endswith("/"):
        return _tree_version(folder)
    path = safe_join(folder, filename)
    return _file_version(path) if path else None


def _version_static_urls(endpoint, values):
    if endpoint != "static" or "filename" not in values:
        return
    filename = values["filename"]
    version = static_version(filename)
    if version is None:
        return
    if filename.endswith("/"):
        values["filename"] = f"{VERSIONED}/{version}/{filename}"
    else:
        values.setdefault("v", version)


def _static(filename):
    """Flask's static view, with a year's caching for URLs that carry the current version."""
    if filename.startswith(VERSIONED + "/"):
        parts = filename.split("/", 2)
        if len(parts) < 3 or not parts[2]:
            abort(404)
        version, filename = parts[1], parts[2]
        fresh = version == _tree_version(current_app.static_folder)
    else:
        wanted = request.args.get("v")
        fresh = wanted is not None and wanted == static_version(filename)
    response = send_from_directory(current_app.static_folder, filename,
                                   max_age=YEAR if fresh else None)
    if fresh:
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    if response.status_code == 200 and response.mimetype in COMPRESS_MIMETYPES:
        # Read the (small) file now, so it is compressed whole and the file closed when the
        # answer is: Flask-Compress's streaming path would leave the file to the GC.
        # The file is closed here, not by a callback on this response: Flask-Compress may
        # answer with another response object, and the callback would be lost.
        wrapped = response.response
        response.direct_passthrough = False
        try:
            response.set_data(b"".join(response.iter_encoded()))
        finally:
            close = getattr(wrapped, "close", None)
            if close is not None:
                close()
    return response


# --- security headers ----------------------------------------------------------------

def csp_nonce() -> str:
    """A nonce for an inline ``<script>`` of this answer (added to the policy when used)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _script_hashes(html: str) -> list[str]:
    hashes = []
    for attributes, body in _INLINE_SCRIPT.findall(html):
        if attributes and re.search(r"\ssrc\s*=", " " + attributes, re.I):
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return sorted(set(hashes))


_BASE_POLICY = "; ".join(f"{name} {value}" for name, value in POLICY.items())


def content_security_policy(response) -> str:
    if "csp_nonce" not in g and request.endpoint not in MAP_PAGES:
        return _BASE_POLICY  # most answers (JSON above all): the fixed policy, built once
    policy = dict(POLICY)
    extra = []
    if "csp_nonce" in g:
        extra.append(f"'nonce-{g.csp_nonce}'")
    if (request.endpoint in MAP_PAGES and response.mimetype == "text/html"
            and not response.is_streamed):
        extra += _script_hashes(response.get_data(as_text=True))
    if extra:
        policy["script-src"] = " ".join([policy["script-src"], *extra])
    return "; ".join(f"{name} {value}" for name, value in policy.items())


_HEADER_ITEMS = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def _security_headers(response):
    # One pass over the answer's headers, then appends: a view may have set its own
    # (a download's policy, say), which is kept.  (Headers.setdefault looks each name up
    # by raising and catching a KeyError: about a fifth of a small JSON answer's cost.)
    headers = response.headers
    present = {key.lower() for key in headers.keys()}
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", content_security_policy(response))
    for key, name, value in _HEADER_ITEMS:
        if key not in present:
            headers.add(name, value)
    if "cache-control" not in present and g.get("user") is not None:
        # A signed-in page may show what the public never sees (managers, private notes):
        # no shared cache may keep it, and the browser need not either.
        headers.add("Cache-Control", "private, no-store")
    return response


def init_app(app):
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESS_MIMETYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    compress.init_app(app)  # registered first, so it runs last: headers see the plain body
    app.after_request(_security_headers)
    app.url_defaults(_version_static_urls)
    app.view_functions["static"] = _static
    app.add_template_global(csp_nonce)
