"""Proof of erasure: search every table and every file the pipeline writes for erased people.

The warehouse no longer knows an erased person's e-mail, phone, name or address, so the
identifiers to look for are read again from the landing zone, which is the source's and still
holds them (unless it was scrubbed with `warehouse erase --scrub-landing`).

A value found is the erased person's only when it is theirs, not merely equal to theirs: people
share addresses (and, less often, a phone). So each match is attributed:

- a row with a customer column (`customer_id`, `customer_key`) belongs to that customer: the
  erased person's own row is a residue, another customer's row holding the same value is a
  shared value;
- a row no customer column attributes (none, or all empty) and a file belong to nobody in
  particular: the value is a shared value when the landing zone shows another customer, not
  erased, holding it too, and a residue otherwise.

Residues are failures; shared values are reported apart ("also held by N other customers").
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

from etl.settings import Settings
from etl.source import cleaning, landing
from etl.warehouse import monthly_partitions

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class Identifier:
    """Something that identifies a person: every term must occur for a match (lower-case)."""

    kind: str
    terms: tuple[str, ...]


@dataclass
class ErasedPerson:
    """An erased customer, the identifiers the landing zone still holds for them, and for each
    identifier the other customers (not erased) the landing zone shows holding it too."""

    customer_id: str
    customer_key: str
    identifiers: set[Identifier] = field(default_factory=set)
    held_by_others: dict[Identifier, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Residue:
    """Identifiers of an erased person found where the pipeline keeps data."""

    customer_key: str
    kind: str
    place: str
    count: int

    def __str__(self) -> str:
        return f"{self.place}: {self.count} x {self.kind} of erased customer {self.customer_key}"


@dataclass(frozen=True)
class SharedValue:
    """A value of an erased person's found where it is another customer's too: not a residue."""

    customer_key: str
    kind: str
    place: str
    count: int
    other_customers: int

    def __str__(self) -> str:
        others = f"{self.other_customers} other customer" + "s" * (self.other_customers != 1)
        return (
            f"{self.place}: {self.count} x {self.kind} of erased customer {self.customer_key}, "
            f"also held by {others}"
        )


@dataclass(frozen=True)
class Findings:
    """What the search found: residues (the proof fails) and shared values (it does not)."""

    residue: list[Residue]
    shared: list[SharedValue]


# Columns that attribute a row to one customer.
_CUSTOMER_COLUMNS = ("customer_id", "customer_key")


def erased_people(conn: psycopg.Connection, settings: Settings) -> list[ErasedPerson]:
    """Every erased customer, with identifiers gathered from the landing zone's records and the
    other customers holding the same identifiers there."""
    ids = dict(conn.execute("SELECT customer_id, customer_key FROM privacy.erased_customers"))
    people = {customer_id: ErasedPerson(customer_id, key) for customer_id, key in ids.items()}
    for customer_id, identifier in _landing_identifiers(settings.raw_data_dir):
        if customer_id in people:
            people[customer_id].identifiers.add(identifier)
    sought: dict[Identifier, list[ErasedPerson]] = {}
    for person in people.values():
        for identifier in person.identifiers:
            sought.setdefault(identifier, []).append(person)
    # A second pass: which identifiers others hold is known only once the erased people's are.
    for customer_id, identifier in _landing_identifiers(settings.raw_data_dir):
        if customer_id and customer_id not in people:
            for person in sought.get(identifier, ()):
                person.held_by_others.setdefault(identifier, set()).add(customer_id)
    return list(people.values())


def find_residue(
    conn: psycopg.Connection, settings: Settings, extra_paths: tuple[Path, ...] = ()
) -> Findings:
    """Where identifiers of erased people remain: every table of every schema, and every file
    under WAREHOUSE_HOME (the embedded database's own files aside), DAGSTER_HOME and
    `extra_paths`, and the archive files of detached months. No residue is the proof."""
    people = [person for person in erased_people(conn, settings) if person.identifiers]
    found = list(_table_findings(conn, people))
    archives = tuple(path for path in monthly_partitions.archive_files(conn) if path.exists())
    for root in _written_paths(settings, (*extra_paths, *archives)):
        found.extend(_file_findings(root, people))
    return Findings(
        residue=[item for item in found if isinstance(item, Residue)],
        shared=[item for item in found if isinstance(item, SharedValue)],
    )


def attribute(
    person: ErasedPerson, place: str, rows: list[tuple[str, frozenset[str]]]
) -> Iterator[Residue | SharedValue]:
    """Judge the `rows` found at `place` (lower-case text, and the values of the customer
    columns that attribute it, empty when none does), per kind of identifier of `person`, by the
    rule in this module's docstring."""
    own = {person.customer_id, person.customer_key}
    for kind in sorted({identifier.kind for identifier in person.identifiers}):
        residue, shared, others = 0, 0, set()
        for text, owners in rows:
            matched = [
                identifier
                for identifier in person.identifiers
                if identifier.kind == kind and all(_occurs(term, text) for term in identifier.terms)
            ]
            if not matched:
                continue
            holders = set().union(*(person.held_by_others.get(m, ()) for m in matched))
            if owners and not owners & own:
                shared += 1
                others.add(owners)
            elif not owners and holders:
                shared += 1
                others.update(frozenset({holder}) for holder in holders)
            else:
                residue += 1
        if residue:
            yield Residue(person.customer_key, kind, place, residue)
        if shared:
            yield SharedValue(person.customer_key, kind, place, shared, len(others))


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


@functools.cache
def _whole(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")


def _occurs(term: str, text: str) -> bool:
    """Whether `term` occurs in `text` whole: "1 mill lane" is not in "21 mill lane"."""
    return term in text and _whole(term).search(text) is not None


def _landing_identifiers(root: Path) -> Iterator[tuple[str, Identifier]]:
    """Every identifier the landing zone holds, with the id of the customer it belongs to."""
    for record, dataset in _landing_records(root):
        if dataset == "customers":
            customer_id, identifiers = record.get("id", ""), _customer_identifiers(record)
        elif dataset == "transactions":
            address = record.get("delivery_address")
            customer_id = record.get("customer_id", "")
            identifiers = _address_identifiers(
                address.get("address") if isinstance(address, dict) else None
            )
        else:
            customer_id, identifiers = (
                record.get("customer-id", ""),
                _email_identifiers(record.get("email")),
            )
        for identifier in identifiers:
            yield str(customer_id).strip(), identifier


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


def _table_findings(
    conn: psycopg.Connection, people: list[ErasedPerson]
) -> Iterator[Residue | SharedValue]:
    """Per table, one scan picks the rows holding any identifier's longest term, with the
    values of their customer columns; the few rows it finds are then judged whole."""
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
        SELECT table_schema, table_name,
               ARRAY(SELECT column_name::text FROM information_schema.columns c
                     WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                       AND c.column_name = ANY(%s)
                     ORDER BY c.ordinal_position)
        FROM information_schema.tables t
        WHERE table_type = 'BASE TABLE' AND table_schema <> ALL(%s)
          AND NOT EXISTS (
              SELECT 1 FROM pg_inherits i
              WHERE i.inhrelid = format('%%I.%%I', t.table_schema, t.table_name)::regclass)
        ORDER BY 1, 2
        """,
        (list(_CUSTOMER_COLUMNS), list(_SYSTEM_SCHEMAS)),
    ).fetchall()
    for schema, table, customer_columns in tables:
        owners = "".join(f', t."{column}"::text' for column in customer_columns)
        rows = [
            (row[0], frozenset(value for value in row[1:] if value))
            for row in conn.execute(
                f"""
                SELECT lower(t::text){owners} FROM "{schema}"."{table}" AS t
                WHERE lower(t::text) LIKE ANY(%s)
                """,
                (prefilter,),
            )
        ]
        if rows:
            for person in people:
                yield from attribute(person, f"table {schema}.{table}", rows)


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _written_paths(settings: Settings, extra_paths: tuple[Path, ...]) -> list[Path]:
    roots = [settings.home, *extra_paths]
    if os.environ.get("DAGSTER_HOME"):
        roots.append(Path(os.environ["DAGSTER_HOME"]))
    return [root for root in roots if root.exists()]


def _file_findings(root: Path, people: list[ErasedPerson]) -> Iterator[Residue | SharedValue]:
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
        # A file names no customer it belongs to.
        rows = [(data.decode("utf-8", errors="replace").lower(), frozenset())]
        for person in people:
            yield from attribute(person, f"file {path}", rows)
