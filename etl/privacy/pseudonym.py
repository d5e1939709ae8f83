"""Keyed pseudonyms: the only way analytics tables refer to a customer."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache


def pseudonym(value: str, key: bytes) -> str:
    """HMAC-SHA-256 of `value` under `key`, as 64 hex digits.

    Unlike a plain hash, it cannot be reversed by hashing every candidate value without the key,
    and it changes completely when the key is rotated.
    """
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# A customer buys many times: caching spares an HMAC per transaction. Bounded, so a load's memory
# stays flat however many customers it meets.
@lru_cache(maxsize=1 << 16)
def customer_key(customer_id: str, key: bytes) -> str:
    """The pseudonym that stands for a customer in the analytics tables."""
    return pseudonym(customer_id, key)
