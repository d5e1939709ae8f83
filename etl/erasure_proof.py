"""Proof of erasure: search every table and every file the pipeline writes for erased people.

The warehouse no longer knows an erased person's e-mail, phone, name or address, so the
identifiers to look for are read again from the landing zone, which is the source's and still
holds them (unless it was scrubbed with `warehouse erase --scrub-landing`).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

from etl import cleaning, landing, table_partitions
from etl.settings import Settings

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class Identifier:
    """Something that identifies a person: every term must occur for a match (lower-case)."""

    kind: str
    terms: tuple[str, ...]


@dataclass
class ErasedPerson:
    """An erased customer and the identifiers the landing zone still holds for them."""

    customer_key: str
    identifiers: set[Identifier] = field(default_factory=set)


@dataclass(frozen=True)
class Residue:
    """Identifiers of an erased person found where the pipeline keeps data."""

    customer_key: str
    kind: str
    place: str
    count: int

    def __str__(self) -> str:
        return f"{self.place}: {self.count} x {self.kind} of erased customer {self.customer_key}"


def erased_people(conn: psycopg.Connection, settings: Settings) -> list[ErasedPerson]:
    """Every erased customer, with identifiers gathered from the landing zone's records."""
    ids = dict(conn.execute("SELECT customer_id, customer_key FROM privacy.erased_customers"))
    people = {customer_id: ErasedPerson(key) for customer_id, key in ids.items()}
    for record, dataset in _landing_records(settings.raw_data_dir):
        if dataset == "customers":
            person = people.get(str(record.get("id", "")).strip())
            if person:
                person.identifiers.update(_customer_identifiers(record))
        elif dataset == "transactions":
            person = people.get(str(record.get("customer_id", "")).strip())
            address = record.get("delivery_address")
            if person and isinstance(address, dict):
                person.identifiers.update(_address_identifiers(address.get("address")))
        elif dataset == "erasure-requests":
            person = people.get(str(record.get("customer-id", "")).strip())
            if person:
                person.identifiers.update(_email_identifiers(record.get("email")))
    return list(people.values())


def find_residue(
    conn: psycopg.Connection, settings: Settings, extra_paths: tuple[Path, ...] = ()
) -> list[Residue]:
    """Where identifiers of erased people remain: every table of every schema, and every file
    under WAREHOUSE_HOME (the embedded database's own files aside), DAGSTER_HOME and
    `extra_paths`, and the archive files of detached months. An empty list is the proof."""
    people = [person for person in erased_people(conn, settings) if person.identifiers]
    residue = list(_table_residue(conn, people))
    archives = tuple(path for path in table_partitions.archive_files(conn) if path.exists())
    for root in _written_paths(settings, (*extra_paths, *archives)):
        residue.extend(_file_residue(root, people))
    return residue


def _customer_identifiers(record: dict) -> Iterator[Identifier]:
    yield from _email_identifiers(record.get("email"))
    phone = record.get("phone_number")
    if isinstance(phone, str) and phone.strip():
        yield Identifier("phone", (phone.strip().lower(),))
        parsed = cleaning.phone(phone, record.get("country"))
        if parsed and parsed.is_e164:
            yield Identifier("phone", (parsed.number.lower(),))
    names = [record.get("first_name"), record.get("last_name"), record.get("date_of_birth")]
    if all(isinstance(value, str) and value.strip() for value in names):
        yield Identifier("name with date of birth", tuple(v.strip().lower() for v in names))
    yield from _address_identifiers(record.get("address"))


def _email_identifiers(email: object) -> Iterator[Identifier]:
    if isinstance(email, str) and email.strip():
        yield Identifier("email", (email.strip().lower(),))


def _address_identifiers(address: object) -> Iterator[Identifier]:
    if isinstance(address, str) and address.strip():
        yield Identifier("address", (address.strip().lower(),))
        cleaned = cleaning.text(address)
        if cleaned:
            yield Identifier("address", (cleaned.lower(),))


def _landing_records(root: Path) -> Iterator[tuple[dict, str]]:
    datasets = ("customers", "transactions", "erasure-requests")
    for landing_file in landing.discover(root, datasets):
        try:
            for line in landing.read_lines(landing_file):
                try:
                    record = orjson.loads(line.raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    yield record, landing_file.dataset
        except landing.LandingFileError:
            continue


def _table_residue(conn: psycopg.Connection, people: list[ErasedPerson]) -> Iterator[Residue]:
    """Per table, one scan picks the rows holding any identifier's longest term; the few rows
    it finds are then matched against every identifier whole."""
    if not people:
        return
    prefilter = sorted(
        {
            "%" + _like_escape(max(identifier.terms, key=len)) + "%"
            for person in people
            for identifier in person.identifiers
        }
    )
    # A monthly partition is searched through its parent (020_partitioning.sql), once.
    tables = conn.execute(
        """
        SELECT table_schema, table_name FROM information_schema.tables t
        WHERE table_type = 'BASE TABLE' AND table_schema <> ALL(%s)
          AND NOT EXISTS (
              SELECT 1 FROM pg_inherits i
              WHERE i.inhrelid = format('%%I.%%I', t.table_schema, t.table_name)::regclass)
        ORDER BY 1, 2
        """,
        (list(_SYSTEM_SCHEMAS),),
    ).fetchall()
    for schema, table in tables:
        rows = [
            row[0]
            for row in conn.execute(
                f"""
                SELECT row_text
                FROM (SELECT lower(t::text) AS row_text FROM "{schema}"."{table}" AS t) AS r
                WHERE row_text LIKE ANY(%s)
                """,
                (prefilter,),
            )
        ]
        for person in people:
            for identifier in person.identifiers:
                count = sum(1 for row in rows if all(term in row for term in identifier.terms))
                if count:
                    yield Residue(
                        person.customer_key, identifier.kind, f"table {schema}.{table}", count
                    )


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _written_paths(settings: Settings, extra_paths: tuple[Path, ...]) -> list[Path]:
    roots = [settings.home, *extra_paths]
    if os.environ.get("DAGSTER_HOME"):
        roots.append(Path(os.environ["DAGSTER_HOME"]))
    return [root for root in roots if root.exists()]


def _file_residue(root: Path, people: list[ErasedPerson]) -> Iterator[Residue]:
    # The embedded database's files are the tables searched above, row by row.
    skip = (root / "pgdata").resolve()
    for path in [root] if root.is_file() else sorted(root.rglob("*")):
        if not path.is_file() or path.resolve().is_relative_to(skip):
            continue
        try:
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        text = data.decode("utf-8", errors="replace").lower()
        for person in people:
            for identifier in person.identifiers:
                if all(term in text for term in identifier.terms):
                    yield Residue(person.customer_key, identifier.kind, f"file {path}", 1)
