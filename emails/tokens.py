"""Signed tokens for the links in a message and on the web: unsubscribe and confirm.

A token is `payload.signature`, both base64url: the payload names the purpose,
the address and when it was issued; the signature is HMAC-SHA256 with the
secret from the environment (POSTROOM_SECRET), never from the repository. An
altered, forged or foreign (other purpose) token is refused. Unsubscribe
tokens do not expire: a link in a two-year-old email must still work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

SECRET_ENV = "POSTROOM_SECRET"
_MIN_SECRET = 16


class TokenError(ValueError):
    """A token that is not ours, or not for this; the message is safe to show."""


def secret_from_env() -> bytes:
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < _MIN_SECRET:
        raise TokenError(
            f"set {SECRET_ENV} to a random string of at least {_MIN_SECRET} characters"
            " (e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return secret.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def make_token(secret: bytes, purpose: str, address: str, issued: int | None = None) -> str:
    body = {"p": purpose, "a": address, "t": int(time.time()) if issued is None else issued}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(secret, payload)}"


def read_token(
    secret: bytes,
    token: str,
    purpose: str,
    max_age: int | None = None,
    now: int | None = None,
) -> str:
    """The address a valid token was made for; TokenError otherwise."""
    return read_token_issued(secret, token, purpose, max_age, now)[0]


def read_token_issued(
    secret: bytes,
    token: str,
    purpose: str,
    max_age: int | None = None,
    now: int | None = None,
) -> tuple[str, int]:
    """(address, when it was issued, epoch seconds) of a valid token; TokenError otherwise."""
    payload, _, signature = token.strip().partition(".")
    expected = _sign(secret, payload).encode()
    if not payload or not hmac.compare_digest(signature.encode(), expected):
        raise TokenError("this link is not valid (it was changed or not made by us)")
    try:
        body = json.loads(_unb64(payload))
    except ValueError:
        raise TokenError("this link is not valid") from None
    if body.get("p") != purpose:
        raise TokenError("this link is not for this action")
    if max_age is not None and (now or int(time.time())) - body["t"] > max_age:
        raise TokenError("this link has expired")
    return body["a"], body["t"]
