"""What the area JSON APIs (campaigns, ledger) share: reading a JSON object body and
answering a refusal as ``{"error": {"status", "message", "parameter", …}}``."""

from flask import g, jsonify, request

from . import csrf


def protect_session():
    """A cookie session must send the X-CSRFToken header; HTTP Basic and bearer callers need not."""
    if not g.get("basic_auth") and g.get("user") is not None:
        csrf.protect()


def json_object(refuse):
    """The request's JSON object (CSRF checked for a cookie session).  Anything else
    raises ``refuse(message, "body")``: the area's own error, a 400 naming the body."""
    protect_session()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise refuse("请求体应是 JSON 对象", "body")
    return data


def error_answer(exc, extra: dict | None = None):
    """The answer to an area's refusal (``exc.status``, ``exc.message``, ``exc.field``),
    with ``extra`` keys added to the error object."""
    body = {"status": exc.status, "message": exc.message}
    if exc.field:
        body["parameter"] = exc.field
    if extra:
        body.update(extra)
    return jsonify(error=body), exc.status


def too_many(message: str, exc):
    """429 with Retry-After for a request refused by a rate limit (``RateLimited``)."""
    return (jsonify(error={"status": 429, "message": message, "retry_after": exc.retry_after}), 429,
            {"Retry-After": str(exc.retry_after)})
