"""Envelope encryption of personal data: AES-256-GCM under data keys wrapped by a master key.

Every stored value is `nonce || ciphertext+tag`. Its associated data names the table, the
column and the row's owner (`pii.customers.email|<customer id>`), so a ciphertext moved to
another column or another customer's row fails to decrypt instead of passing as theirs. A data
key belongs to one customer (or one day of quarantine): destroying it destroys every copy of
what it encrypted, in any backup.

The nonce is synthetic: a keyed BLAKE2b hash of the associated data and the plaintext, under a
key derived from the data key. The same value of the same customer's column is therefore
sealed the same way each time, so that loading a file again leaves the tables byte for byte as
they were (a replay is a no-op, as before encryption); two different values get different
nonces (a collision is a 2^-96 chance), which is all AES-GCM needs. It reveals only that a
customer's column holds the value it held before, which the row's history shows anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


# The label of key fingerprints (etl/encryption/key_fingerprints.py uses the same for every key).
FINGERPRINT_LABEL = b"retail-warehouse key fingerprint"


def fingerprint(key: bytes) -> str:
    """16 hex digits that tell keys apart and reveal nothing of them."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


class DecryptionError(ValueError):
    """A ciphertext that its key and associated data do not open (wrong key, row or column)."""


def new_data_key() -> bytes:
    """A random AES-256 key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


@dataclass(frozen=True)
class DataCipher:
    """A data key, ready to seal and open values."""

    aead: AESGCM
    nonce_key: bytes

    @classmethod
    def of(cls, data_key: bytes) -> DataCipher:
        return cls(AESGCM(data_key), hmac.digest(data_key, b"synthetic nonce", "sha256"))


def associated_data(table_column: str, owner: str) -> bytes:
    """What a value is bound to: e.g. `pii.customers.email` of customer `owner`."""
    return f"{table_column}|{owner}".encode()


def encrypt(cipher: DataCipher, plaintext: str, aad: bytes) -> bytes:
    """`plaintext` sealed under `cipher`'s key, bound to `aad`: the nonce and the ciphertext
    with its tag."""
    data = plaintext.encode()
    nonce = hashlib.blake2b(
        aad + b"\0" + data, key=cipher.nonce_key, digest_size=NONCE_BYTES
    ).digest()
    return nonce + cipher.aead.encrypt(nonce, data, aad)


def decrypt(cipher: DataCipher, sealed: bytes, aad: bytes) -> str:
    """The plaintext of `sealed` (see encrypt).

    Raises:
        DecryptionError: another key, or a value moved from another row or column.
    """
    try:
        return cipher.aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad).decode()
    except InvalidTag:
        raise DecryptionError(f"cannot decrypt a value bound to {aad.decode()!r}") from None


class MasterKey(Protocol):
    """Wraps and unwraps data keys; never leaves the process (a KMS could implement this)."""

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it: what the keystore and warehouse record."""
        ...

    def wrap(self, data_key: bytes, purpose: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes: ...


class EnvironmentMasterKey:
    """A master key of 32 bytes given in the environment (base64 or hex)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes, not {len(key)}")
        self._cipher = AESGCM(key)
        self.key = key
        self.fingerprint = fingerprint(key)

    @classmethod
    def parse(cls, text: str) -> EnvironmentMasterKey:
        """A key written as 64 hex digits or as base64 of 32 bytes.

        Raises:
            ValueError: neither, or not 32 bytes.
        """
        text = text.strip()
        try:
            key = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(text)
        except (ValueError, binascii.Error):
            raise ValueError("a master key is 64 hex digits or base64 of 32 bytes") from None
        return cls(key)

    def wrap(self, data_key: bytes, purpose: bytes) -> bytes:
        """`data_key` encrypted under the master key, bound to what it is the key of."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, data_key, b"data key|" + purpose)

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes:
        try:
            return self._cipher.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"data key|" + purpose
            )
        except InvalidTag:
            raise DecryptionError(
                f"the master key {self.fingerprint} does not unwrap this {purpose.decode()} key"
            ) from None
