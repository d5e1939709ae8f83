"""Sealing a batch's personal data under its customers' data keys before it is staged, and
opening what was stored: the merges then move ciphertext as they moved text, set-wise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etl.encryption import crypto
from etl.encryption.crypto import DataCipher
from etl.encryption.keystore import KeyRing
from etl.loading.dataset import TempTable


@dataclass(frozen=True)
class Sealing:
    """Which columns of a staging table hold personal data, and where they are stored.

    Attributes:
        staging: the staging table (its rows start with file_number).
        columns: staging column -> the stored column it becomes (`pii.customers.email`): the
            associated data names the stored column, so the value opens only there.
        owner: the column of the customer id the values belong to.
        customer_key: the column of that customer's pseudonym, which names their data key.
    """

    staging: TempTable
    columns: Mapping[str, str]
    owner: str = "customer_id"
    customer_key: str = "customer_key"

    def seal(self, rows: Sequence[tuple[Any, ...]], keys: KeyRing) -> list[tuple[Any, ...]]:
        """`rows` with their personal values encrypted, the customers' keys fetched, or made
        for the customers new to the warehouse, in bulk. A row without any personal value (an
        erased customer's transaction) needs no key."""
        names = self.staging.columns
        positions = [(names.index(column), stored) for column, stored in self.columns.items()]
        owner, key = names.index(self.owner), names.index(self.customer_key)
        needed = set()
        for row in rows:
            for position, _ in positions:
                if row[position] is not None:
                    needed.add(row[key])
                    break
        ciphers = keys.customers(needed, create=True) if needed else {}
        encrypt = crypto.encrypt
        sealed = []
        for row in rows:
            cipher = ciphers.get(row[key])
            if cipher is None:
                sealed.append(row)
                continue
            values = list(row)
            for position, stored in positions:
                value = values[position]
                if value is not None:
                    values[position] = encrypt(
                        cipher, str(value), crypto.associated_data(stored, row[owner])
                    )
            sealed.append(tuple(values))
        return sealed


def open_value(
    cipher: DataCipher | None, sealed: bytes | None, stored: str, owner: str
) -> str | None:
    """The plaintext of a stored value (None for none; raises DecryptionError on a value that
    is not this owner's, in this column)."""
    if sealed is None or cipher is None:
        return None
    return crypto.decrypt(cipher, bytes(sealed), crypto.associated_data(stored, owner))
