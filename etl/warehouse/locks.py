"""Every advisory lock the warehouse takes, and the order they are taken in.

A load's transaction takes, in this order and never otherwise:

1. the landing files of its batch (`lock_landing_files`), in path order: two loads given the
   same file take turns, and the second finds it loaded;
2. its dataset's merge lock (`lock_merges`), where the dataset's merges take turns (customers take
   it first of all, before the erasure lock: see etl.loading.dataset.Dataset.erases_on_arrival);
3. the erasure lock (`lock_erasure_shared`, or `lock_erasure_exclusive` for an erasure, which
   then runs alone).

Locks of the same kind are taken in one order (files sorted by path), so two loads never wait for
each other in a cycle. Locks taken outside a load's transaction, each alone in a short one:
migrations (`MIGRATIONS`), the creation of a month's partitions (`PARTITION_CREATION`, taken by
ops.create_partition in sql-scripts/020) and the marts' refresh (`MARTS_REFRESH`, taken by the
marts' functions in sql-scripts/010 and 030).
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

# Namespaces of two-key locks (pg_advisory_xact_lock(namespace, key)).
LANDING_FILES = 1
MERGES = 2
ERASURE = (3, 0)
MARTS_REFRESH = (10, 0)
PARTITION_CREATION = (11, 0)
# A one-key lock: serialises migrators (two loaders starting at once).
MIGRATIONS = 7_300_001


def lock_landing_files(conn: psycopg.Connection, relative_paths: Iterable[str]) -> None:
    """Take the landing files' locks, in path order, in one statement. A batch holds one per file
    (etl.loading.file_load.BATCH_FILES bounds how many, well within the server's lock table)."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(path)) FROM unnest(%s::text[]) AS path",
        (LANDING_FILES, sorted(set(relative_paths))),  # taken in the array's order
    )


def lock_merges(conn: psycopg.Connection, dataset: str) -> None:
    """One dataset's merges take turns (a second request in the same transaction is a no-op)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MERGES, dataset))


def lock_erasure_shared(conn: psycopg.Connection) -> None:
    """Taken by every load: waits while an erasure is being carried out."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", ERASURE)


def lock_erasure_exclusive(conn: psycopg.Connection) -> None:
    """Taken by an erasure (and by anything that must not meet a load): waits for running
    loads to finish, and keeps new ones waiting until it commits."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", ERASURE)


def lock_migrations(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATIONS,))
