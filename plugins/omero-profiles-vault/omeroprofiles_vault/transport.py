"""The one HTTP session every request to Vault goes through: inside the deadline, no redirect
followed, answers read only up to a bound and, where hvac will parse them, JSON objects.

hvac hands every request it makes (the AppRole login, the KV read, the token lookup and
revocation, the mount lookup) to the requests session it is given, so these rules hold for all of
them, whichever way the token was obtained:

- requests follows redirects by default and drops only ``Authorization`` when the host changes:
  ``X-Vault-Token`` went wherever a redirect pointed (and a 307 re-posts the AppRole secret id).
  No redirect is followed here; a 3xx answer is a ``Redirected`` naming its target.
- An answer is read in pieces and at most ``ANSWER_LIMIT`` bytes of it (decoded: a small gzip
  body cannot unpack into a large one); a ``Content-Length`` above it is refused before the body
  is read.
- A body hvac parses as JSON (any 2xx answer, and error answers sent as ``application/json``)
  must be a JSON object; nesting too deep for the parser, non-JSON and other JSON values are a
  ``MalformedAnswer`` here, not an AttributeError or RecursionError inside hvac.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .answers import MalformedAnswer, Redirected, check_errors, json_kind

ANSWER_LIMIT = 1024 * 1024
"""Bytes of an answer that are read at most. A KV secret holds a user name and a password, and
Vault's own answers are a few KiB; 1 MiB leaves room and bounds memory."""
ANSWER_LIMIT_TEXT = "1 MiB"

_PIECE = 64 * 1024


class OutOfTime(requests.exceptions.Timeout):
    """The profile's timeout ran out between two requests."""


class VaultSession(requests.Session):
    """A requests session whose every request may take only the time left before ``deadline``,
    follows no redirect and reads a bounded answer.

    hvac passes one fixed ``timeout`` to every request; an AppRole login, the read and the token
    revocation share one budget here instead, so the whole fetch is bounded by the profile's
    ``timeout`` (requests applies it to the connect and to each wait for data).
    """

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise OutOfTime("the time allowed for the whole fetch ran out")
        kwargs.update(timeout=remaining, allow_redirects=False, stream=True)
        response = super().request(method, url, **kwargs)
        asked = f"{_text(method).upper()} {urlsplit(_text(url)).path}"
        try:
            if 300 <= response.status_code < 400:
                location = response.headers.get("Location")
                raise Redirected(asked, response.status_code, urljoin(response.url, location) if location else None)
            # what requests does itself when it reads a whole body (Response.content), but bounded
            response._content = _bounded_body(response, asked)
            response._content_consumed = True
            _check_json(response, asked)
        except BaseException:
            response.close()
            raise
        return response


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _bounded_body(response: requests.Response, asked: str) -> bytes:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > ANSWER_LIMIT:
        raise MalformedAnswer(asked, f"an answer of {int(declared)} bytes (its Content-Length), more than the "
                                     f"{ANSWER_LIMIT_TEXT} allowed: not read")
    pieces: list[bytes] = []
    size = 0
    try:
        for piece in response.iter_content(_PIECE):
            size += len(piece)
            if size > ANSWER_LIMIT:
                raise MalformedAnswer(asked, f"an answer larger than the {ANSWER_LIMIT_TEXT} allowed: reading "
                                             "stopped there")
            pieces.append(piece)
    except requests.exceptions.ContentDecodingError:
        encoding = response.headers.get("Content-Encoding", "")
        raise MalformedAnswer(asked, f"the body cannot be decoded as its Content-Encoding says "
                                     f"({encoding[:40]})") from None
    return b"".join(pieces)


def _check_json(response: requests.Response, asked: str) -> None:
    if not response.content:
        return
    content_type = response.headers.get("Content-Type", "")
    is_json = content_type.split(";")[0].strip().lower() == "application/json"
    if not (200 <= response.status_code < 300 or is_json):
        return  # an error page as text (a proxy's, or "HTTP request to an HTTPS server"): kept as text
    try:
        answer = response.json()
    except RecursionError:
        raise MalformedAnswer(asked, "JSON nested too deeply") from None
    except ValueError:
        shown = content_type[:60] or "none"
        raise MalformedAnswer(asked, f"not JSON (HTTP {response.status_code}, Content-Type {shown})") from None
    if not isinstance(answer, dict):
        raise MalformedAnswer(asked, f"the answer is {json_kind(answer)} where Vault sends a JSON object")
    if response.status_code >= 400:
        check_errors(answer, asked)
