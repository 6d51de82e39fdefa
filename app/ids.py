"""Identifier formats of the contract, generated from the OS's CSPRNG."""

from __future__ import annotations

import hashlib
import secrets
import string

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits


def _random(alphabet: str, length: int) -> str:
    """``length`` uniform characters of ``alphabet``: one CSPRNG draw, written in base N."""
    base = len(alphabet)
    number = secrets.randbelow(base**length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, base)
        chars.append(alphabet[digit])
    return "".join(chars)


def new_organization_id() -> str:
    return "int_" + secrets.token_urlsafe(18)  # 18 bytes -> 24 url-safe chars


def new_user_id() -> str:
    return "usr_" + _random(_ALNUM, 15)


def new_namespace_id() -> str:
    return "ns_" + _random(_LOWER_ALNUM, 12)


def new_bucket_id() -> str:
    return "bkt_" + _random(_LOWER_ALNUM, 12)


def new_connection_id() -> str:
    return "conn_" + _random(_ALNUM, 15)


def new_sync_config_id() -> str:
    return "sync_" + _random(_LOWER_ALNUM, 16)


def new_api_key_id() -> str:
    return "key_" + _random(_LOWER_ALNUM, 16)


def new_api_key() -> str:
    """A fresh secret key: ``sk_`` + 40 url-safe characters (240 bits)."""
    return "sk_" + secrets.token_urlsafe(30)


API_KEY_LENGTH = 43
API_KEY_PREFIX_LENGTH = 10  # "sk_" + 7 chars: enough to name a key, useless to guess it


def hash_api_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()
