"""Which answer a request wants, JSON or a page: the API always JSON; ``/ogcapi`` by its
``f`` parameter, else by the ``Accept`` header (a browser gets a page, a GIS client JSON)."""

from __future__ import annotations

from flask import request

__all__ = ["answers_json", "is_ogcapi", "ogcapi_wants_html"]


def is_ogcapi() -> bool:
    return request.path == "/ogcapi" or request.path.startswith("/ogcapi/")


def ogcapi_wants_html() -> bool:
    f = request.args.get("f")
    if f:
        return f == "html"
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json", "text/html"])
    return best == "text/html"


def answers_json() -> bool:
    """Whether this request's errors answer JSON (else the Chinese error page)."""
    if is_ogcapi():
        return not ogcapi_wants_html()
    return request.path.startswith("/api/")
