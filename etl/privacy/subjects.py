"""Whom a landing line names, found without parsing it: the customer ids and e-mails in it, as
the keyed hashes the warehouse matches erasure by (a line may be too broken to parse)."""

from __future__ import annotations

import re

from etl.privacy.pseudonym import customer_key, pseudonym

# A customer id under any field a dataset names its customer by (etl.loading.dataset.Dataset.
# subject_field: id, customer_id, customer-id).
_SUBJECT_IN_RAW = re.compile(rb'"(?:id|customer_id|customer-id)"\s*:\s*"\s*([0-9]+)\s*"')
_EMAIL_IN_RAW = re.compile(rb"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def customer_keys_named(raw: bytes, key: bytes) -> set[str]:
    """Pseudonyms of the customer ids the line gives as a record's subject."""
    return {customer_key(match.group(1).decode(), key) for match in _SUBJECT_IN_RAW.finditer(raw)}


def email_keys_named(raw: bytes, key: bytes) -> set[str]:
    """Keyed hashes of the (lower-cased) e-mail addresses anywhere in the line. An apostrophe
    may begin an address (o'brien@...) or quote it (an error message's 'x@example.com'): both
    readings count."""
    keys = set()
    for match in _EMAIL_IN_RAW.finditer(raw):
        email = match.group(0).decode(errors="replace").lower()
        keys.add(pseudonym(email, key))
        if email.startswith("'"):
            keys.add(pseudonym(email.lstrip("'"), key))
    return keys


def subjects_named(raw: bytes, key: bytes) -> list[str]:
    """Both, sorted: what ops.quarantine.subjects holds of a quarantined line."""
    return sorted(customer_keys_named(raw, key) | email_keys_named(raw, key))
