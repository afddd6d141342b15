"""Signed tokens for the links in a message and on the web: unsubscribe, confirm, and a
curator's answers to a proof.

A token is opaque: base64url of a version byte, the purpose, when it was issued
(epoch seconds), the subscriber's id and an HMAC-SHA256 (truncated to 128 bits)
under the secret from the environment (POSTROOM_SECRET), never from the
repository. The address is not in it, so a link that ends up in a log, a
Referer or a forwarded message does not give the address away; it is bound into
the signature instead (the MAC covers the address the id stood for), so a link
made for a subscriber who was removed can never act on whoever gets their id
next. 32 characters for most lists, against 100-odd for the old format.

Tokens of the old format (`payload.signature`, the payload base64url JSON naming
the address) are still read, for their lifetime: unsubscribe tokens do not
expire (a link in a two-year-old email must still work), confirm tokens after a
week. An altered, forged or foreign (other purpose) token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

SECRET_ENV = "POSTROOM_SECRET"
_MIN_SECRET = 16
_VERSION = 2  # the old JSON tokens were, in effect, version 1
_MAC_BYTES = 16  # HMAC-SHA256 cut to 128 bits: no forgery by trying, and a short link
_HEAD = struct.Struct(">BBI")  # version, purpose, issued (seconds, good until 2106)
_MAC_CONTEXT = b"postroom-token\x00"  # the old format signed base64 text: never this
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")  # base64url: one spelling per token
_INVALID = "this link is not valid (it was changed or not made by us)"


class Purpose(StrEnum):
    """What a token may be used for; a token for one is refused for the other."""

    UNSUBSCRIBE = "unsubscribe"
    CONFIRM = "confirm"
    # a proof's links (emails.proof): the id is the number, not a subscriber's
    PROOF_HOLD = "proof-hold"
    PROOF_SKIP = "proof-skip"
    PROOF_SEND = "proof-send"
    PREFERENCES = "preferences"  # a reader's preferences page: the id is theirs


_CODES = {
    Purpose.UNSUBSCRIBE: 1,
    Purpose.CONFIRM: 2,
    Purpose.PROOF_HOLD: 3,
    Purpose.PROOF_SKIP: 4,
    Purpose.PROOF_SEND: 5,
    Purpose.PREFERENCES: 6,
}
_PURPOSES = {code: purpose for purpose, code in _CODES.items()}

#: a subscriber's address by their id, or None when there is no such subscriber
AddressOf = Callable[[int], str | None]


class TokenError(ValueError):
    """A token that is not ours, or not for this; the message is safe to show."""


@dataclass(frozen=True)
class TokenHolder:
    """Whom a valid token was made for."""

    address: str
    issued: int  # epoch seconds
    subscriber_id: int | None  # None for an old-format token, which names only its address


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


def _mac(secret: bytes, body: bytes, address: str) -> bytes:
    """The signature over the token's bytes and the address its id stood for (lower case,
    as the list keys it: one person however they typed it)."""
    message = _MAC_CONTEXT + body + b"\x00" + address.lower().encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(
    secret: bytes,
    purpose: Purpose,
    subscriber_id: int,
    address: str,
    issued: int | None = None,
) -> str:
    """An opaque token for subscriber `subscriber_id` (whose address is `address`): the
    same arguments give the same token, so a message sent again carries the same link."""
    if subscriber_id < 0:
        raise ValueError(f"a subscriber id is not negative, not {subscriber_id}")
    when = int(time.time()) if issued is None else issued
    ident = subscriber_id.to_bytes(max(1, (subscriber_id.bit_length() + 7) // 8), "big")
    body = _HEAD.pack(_VERSION, _CODES[Purpose(purpose)], when) + ident
    return _b64(body + _mac(secret, body, address))


def read_token(
    secret: bytes,
    token: str,
    purpose: Purpose,
    address_of: AddressOf,
    max_age: int | None = None,
    now: int | None = None,
) -> TokenHolder:
    """Whom a valid token was made for; TokenError otherwise. `address_of` finds the
    address of the subscriber an opaque token names (a token whose subscriber is gone,
    or whose id now belongs to another address, is not valid)."""
    token = token.strip()
    if "." in token:  # the old format, still good for its lifetime
        address, issued, found = _read_old(secret, token)
        holder = TokenHolder(address, issued, None)
    else:
        holder, found = _read_opaque(secret, token, address_of)
    if found is not Purpose(purpose):
        raise TokenError("this link is not for this action")
    if max_age is not None and (now or int(time.time())) - holder.issued > max_age:
        raise TokenError("this link has expired")
    return holder


def _read_opaque(
    secret: bytes, token: str, address_of: AddressOf
) -> tuple[TokenHolder, Purpose | None]:
    try:
        raw = _unb64(token) if _ALPHABET.fullmatch(token) else b""
    except (binascii.Error, ValueError):  # a length no base64 has
        raw = b""
    if not _HEAD.size + 1 <= len(raw) - _MAC_BYTES <= _HEAD.size + 7:  # ids fit 56 bits
        raise TokenError(_INVALID)
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    version, code, issued = _HEAD.unpack_from(body)
    subscriber_id = int.from_bytes(body[_HEAD.size :], "big")
    address = address_of(subscriber_id) if version == _VERSION else None
    # the same answer for a forged token and one whose subscriber is gone: no oracle
    if address is None or not hmac.compare_digest(mac, _mac(secret, body, address)):
        raise TokenError(_INVALID)
    return TokenHolder(address, issued, subscriber_id), _PURPOSES.get(code)


def _sign_old(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def _read_old(secret: bytes, token: str) -> tuple[str, int, Purpose | None]:
    """(address, issued, purpose) of a valid token of the old `payload.signature` form."""
    payload, _, signature = token.partition(".")
    expected = _sign_old(secret, payload).encode()
    if not payload or not hmac.compare_digest(signature.encode(), expected):
        raise TokenError(_INVALID)
    try:
        body = json.loads(_unb64(payload))
        address, issued, purpose = body["a"], body["t"], body.get("p")
    except (ValueError, KeyError, TypeError):
        raise TokenError("this link is not valid") from None
    if not isinstance(address, str) or not isinstance(issued, int):
        raise TokenError("this link is not valid")
    known = purpose in tuple(Purpose)
    return address, issued, Purpose(purpose) if known else None
