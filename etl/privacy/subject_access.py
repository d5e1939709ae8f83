"""Everything the warehouse holds about one person, decrypted (GDPR Art. 15 and 20).

Works against any database whose keys the keystore holds, a restored backup included: a
customer whose data key is destroyed (erased) shows nothing personal, whatever ciphertext the
database still holds of them, only that the key is gone and what the erasure log says.
"""

from __future__ import annotations

from typing import Any

import psycopg

from etl.encryption.crypto import DataCipher
from etl.encryption.keystore import KeyRing
from etl.encryption.sealing import open_value
from etl.loading import quarantine
from etl.privacy.pseudonym import customer_key as pseudonym_of

_CUSTOMER_SEALED = (
    "first_name", "last_name", "date_of_birth", "email", "phone_number", "phone_extension",
    "address", "postcode",
)  # fmt: skip
_CUSTOMER_PLAIN = ("phone_number_is_e164", "city", "country", "last_change")


def subject_access(
    conn: psycopg.Connection, keys: KeyRing, customer_id: str, pseudonym_key: bytes
) -> dict[str, Any]:
    """The person's record, delivery addresses, transactions with their lines, quarantined lines
    naming them and erasure status, as JSON-ready values."""
    customer_id = customer_id.strip()
    subject_key = pseudonym_of(customer_id, pseudonym_key)
    cipher = keys.customers([subject_key]).get(subject_key)
    report: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_key": subject_key,
        "data_key": "present" if cipher else "destroyed or never made",
        "erasure": _erasure(conn, subject_key),
    }
    customer = _customer(conn, cipher, customer_id)
    stored = customer is not None or _holds_ciphertext(conn, customer_id)
    if cipher is None:
        report["status"] = (
            "erased: data key destroyed" if stored or report["erasure"] else "unknown"
        )
        return report
    report["status"] = "present"
    report["customer"] = customer
    report["delivery_addresses"] = _addresses(conn, cipher, customer_id)
    report["transactions"] = _transactions(conn, subject_key)
    email_keys = [customer["email_key"]] if customer and customer.get("email_key") else []
    report["quarantined_lines"] = [
        line.as_json() for line in quarantine.naming(conn, keys, [subject_key, *email_keys])
    ]
    return report


def _customer(
    conn: psycopg.Connection, cipher: DataCipher | None, customer_id: str
) -> dict[str, Any] | None:
    row = conn.execute(
        f"""
        SELECT {", ".join(_CUSTOMER_SEALED + _CUSTOMER_PLAIN)}, email_key, source_file,
               source_line
        FROM pii.customers WHERE customer_id = %s
        """,
        (customer_id,),
    ).fetchone()
    if row is None or cipher is None:
        return None
    sealed, plain = row[: len(_CUSTOMER_SEALED)], row[len(_CUSTOMER_SEALED) :]
    record = {
        column: open_value(cipher, value, f"pii.customers.{column}", customer_id)
        for column, value in zip(_CUSTOMER_SEALED, sealed, strict=True)
    }
    names = (*_CUSTOMER_PLAIN, "email_key", "source_file", "source_line")
    record.update(zip(names, plain, strict=True))
    record["last_change"] = record["last_change"].isoformat()
    return record


def _holds_ciphertext(conn: psycopg.Connection, customer_id: str) -> bool:
    return bool(
        conn.execute(
            """
            SELECT EXISTS (SELECT 1 FROM pii.customers WHERE customer_id = %(id)s)
                OR EXISTS (SELECT 1 FROM pii.delivery_addresses WHERE customer_id = %(id)s)
            """,
            {"id": customer_id},
        ).fetchone()[0]
    )


def _addresses(
    conn: psycopg.Connection, cipher: DataCipher, customer_id: str
) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT transaction_id, transaction_time, address, postcode, city, country
        FROM pii.delivery_addresses WHERE customer_id = %s ORDER BY transaction_time
        """,
        (customer_id,),
    )
    return [
        {
            "transaction_id": str(transaction_id),
            "transaction_time": time.isoformat(),
            "address": open_value(cipher, address, "pii.delivery_addresses.address", customer_id),
            "postcode": open_value(
                cipher, postcode, "pii.delivery_addresses.postcode", customer_id
            ),
            "city": city,
            "country": country,
        }
        for transaction_id, time, address, postcode, city, country in rows
    ]


def _transactions(conn: psycopg.Connection, subject_key: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT t.transaction_id, t.transaction_time, t.delivery_city, t.delivery_country,
               t.total_cost,
               coalesce(jsonb_agg(jsonb_build_object(
                   'line', i.line_number, 'sku', i.sku, 'quantity', i.quantity,
                   'price', i.price, 'total', i.total) ORDER BY i.line_number)
                   FILTER (WHERE i.line_number IS NOT NULL), '[]')
        FROM warehouse.transactions t
        LEFT JOIN warehouse.transaction_items i USING (transaction_id, transaction_time)
        WHERE t.customer_key = %s
        GROUP BY 1, 2, 3, 4, 5 ORDER BY t.transaction_time
        """,
        (subject_key,),
    )
    return [
        {
            "transaction_id": str(transaction_id),
            "transaction_time": time.isoformat(),
            "delivery_city": city,
            "delivery_country": country,
            "total_cost": str(total),
            "items": items,
        }
        for transaction_id, time, city, country, total, items in rows
    ]


def _erasure(conn: psycopg.Connection, subject_key: str) -> dict[str, Any] | None:
    row = conn.execute(
        """
        SELECT e.request_id, e.erased_at, e.key_destroyed_at,
               (SELECT jsonb_agg(jsonb_build_object('outcome', l.outcome, 'processed_at',
                                                    l.processed_at) ORDER BY l.processed_at)
                FROM privacy.erasure_log l WHERE l.customer_key = %(key)s)
        FROM (SELECT %(key)s::text AS customer_key) k
        LEFT JOIN privacy.erased_customers e USING (customer_key)
        """,
        {"key": subject_key},
    ).fetchone()
    request_id, erased_at, key_destroyed_at, requests = row
    if request_id is None and not requests:
        return None
    return {
        "erased_at": erased_at and erased_at.isoformat(),
        "key_destroyed_at": key_destroyed_at and key_destroyed_at.isoformat(),
        "requests": requests or [],
    }
