"""What an attacker sends that is not about any one form: bodies the server cannot read,
requests for things that do not exist.  Every answer is a clear Chinese 4xx, never a 500."""

from __future__ import annotations

import io
import re

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize

from stations import tokens, users


class _BrokenBody(io.RawIOBase):
    """A request body that fails as gunicorn's reader does on bad chunked encoding."""

    def __init__(self, error):
        self.error = error

    def readable(self):
        return True

    def readinto(self, buffer):
        raise self.error


def _token(app, fresh_db):
    return tokens.issue_token(fresh_db, users.get_user(fresh_db, "admin")["id"])


@pytest.mark.parametrize("error", [InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"xx")])
@pytest.mark.parametrize("path, kind", [("/api/v1/stations", "application/json"),
                                        ("/login", "application/x-www-form-urlencoded")])
def test_a_body_the_server_cannot_read_is_a_400(app, fresh_db, error, path, kind):
    headers = {"Content-Type": kind, "Authorization": f"Bearer {_token(app, fresh_db)}"}
    app.config["WTF_CSRF_ENABLED"] = path.startswith("/api/")  # reach the body on /login too
    response = app.test_client().post(path, headers=headers, environ_overrides={
        # as gunicorn passes a chunked body: no length, the stream ends itself
        "wsgi.input": _BrokenBody(error), "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "请求体无法读取" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("method, path", [("GET", "/api/v1/nope"), ("GET", "/api/v1/stations/999999x"),
                                          ("DELETE", "/api/v1/stations"), ("POST", "/api/v1/nearest")])
def test_api_errors_for_unknown_routes_and_methods_are_in_chinese(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code in (404, 405)
    message = response.get_json()["error"]["message"]
    assert re.search(r"[\u4e00-\u9fff]", message), message
    assert "requested URL" not in message and "not allowed" not in message
