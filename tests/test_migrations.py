"""Migrations: numbered scripts applied once each, in order, recorded, a changed one refused;
definitions applied again whenever they change; the baseline of scripts that shed their
definitions accepted."""

import hashlib
import re
import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from etl.settings import SQL_SCRIPTS_DIR
from etl.warehouse.migrations import (
    RECORDS,
    MigrationError,
    available,
    baseline,
    definitions,
    migrate,
)
from tests.conftest import (
    SEALED_TABLES,
    WAREHOUSE_SCHEMAS,
    copy_rows,
    schema_catalog,
    table_checksums,
)

# The numbered scripts that shed their definitions, as they were up to commit e970efd.
BEFORE_DEFINITIONS = Path(__file__).parent / "migrations_before_definitions"


def _sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_second_run_applies_nothing(new_database):
    url = new_database()
    with psycopg.connect(url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        recorded = [row[0] for row in conn.execute("SELECT name FROM ops.schema_migrations")]
        defined = [row[0] for row in conn.execute("SELECT name FROM ops.schema_definitions")]
    names = [m.name for m in available()]
    assert first == names + [f"definitions/{d.name}" for d in definitions()]
    assert names == sorted(names)
    assert second == []
    assert recorded == names
    assert sorted(defined) == [d.name for d in definitions()]


def test_new_script_is_applied_and_changed_one_refused(new_database, tmp_path):
    url = new_database()
    (tmp_path / "001_first.sql").write_text("CREATE SCHEMA extra; CREATE TABLE extra.t (x int);")
    (tmp_path / "example.sql").write_text("SELECT 'not a migration';")
    with psycopg.connect(url) as conn:
        assert migrate(conn, tmp_path) == ["001_first.sql"]
        (tmp_path / "002_second.sql").write_text("ALTER TABLE extra.t ADD COLUMN y int;")
        assert migrate(conn, tmp_path) == ["002_second.sql"]
        (tmp_path / "001_first.sql").write_text("CREATE SCHEMA extra;")
        with pytest.raises(MigrationError, match=r"001_first\.sql changed"):
            migrate(conn, tmp_path)


def test_a_failing_script_leaves_nothing_behind(new_database, tmp_path):
    url = new_database()
    (tmp_path / "001_ok.sql").write_text("CREATE SCHEMA extra;")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE extra.t (x no_such_type);")
    with psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.UndefinedObject):
            migrate(conn, tmp_path)
        conn.rollback()
        schemas = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'extra'"
        ).fetchone()
    assert schemas == (0,)


def _views(conn):
    return conn.execute(
        "SELECT table_name, view_definition FROM information_schema.views"
        " WHERE table_schema = 'extra' ORDER BY 1"
    ).fetchall()


def test_definitions_apply_in_order_and_again_when_they_change(new_database, tmp_path):
    url = new_database()
    (tmp_path / "001_table.sql").write_text("CREATE SCHEMA extra; CREATE TABLE extra.t (x int);")
    defined = tmp_path / "definitions"
    defined.mkdir()
    # the second depends on the first: they apply in the order of their numbers
    (defined / "020_extra.doubled.sql").write_text(
        "CREATE OR REPLACE VIEW extra.doubled AS SELECT x * 2 AS x FROM extra.t;"
    )
    (defined / "030_extra.quadrupled.sql").write_text(
        "CREATE OR REPLACE VIEW extra.quadrupled AS SELECT x * 2 AS x FROM extra.doubled;"
    )
    with psycopg.connect(url) as conn:
        assert migrate(conn, tmp_path) == [
            "001_table.sql",
            "definitions/020_extra.doubled.sql",
            "definitions/030_extra.quadrupled.sql",
        ]
        assert migrate(conn, tmp_path) == []
        # Changed: applied again, alone.
        (defined / "030_extra.quadrupled.sql").write_text(
            "CREATE OR REPLACE VIEW extra.quadrupled AS SELECT x + x AS x FROM extra.doubled;"
        )
        assert migrate(conn, tmp_path) == ["definitions/030_extra.quadrupled.sql"]
        # PostgreSQL 15 writes the view back as (doubled.x + doubled.x), 18 as (x + x)
        assert re.search(r"\((doubled\.)?x \+ (doubled\.)?x\)", dict(_views(conn))["quadrupled"])
        recorded = dict(conn.execute("SELECT name, checksum FROM ops.schema_definitions"))
        assert recorded["030_extra.quadrupled.sql"] == _sha256(
            (defined / "030_extra.quadrupled.sql").read_text()
        )
        assert migrate(conn, tmp_path) == []
        # A numbered script may drop what a definition defines (a table it replaces takes its
        # triggers along): after a numbered script, every definition applies again.
        (tmp_path / "002_replace.sql").write_text(
            "DROP VIEW extra.quadrupled, extra.doubled; ALTER TABLE extra.t ADD COLUMN y int;"
        )
        assert migrate(conn, tmp_path) == [
            "002_replace.sql",
            "definitions/020_extra.doubled.sql",
            "definitions/030_extra.quadrupled.sql",
        ]
        assert [name for name, _ in _views(conn)] == ["doubled", "quadrupled"]
        # A definition taken away is forgotten (a numbered script drops what it made).
        (defined / "030_extra.quadrupled.sql").unlink()
        assert migrate(conn, tmp_path) == []
        assert conn.execute("SELECT name FROM ops.schema_definitions").fetchall() == [
            ("020_extra.doubled.sql",)
        ]


def test_a_failing_definition_leaves_nothing_behind(new_database, tmp_path):
    url = new_database()
    (tmp_path / "001_table.sql").write_text("CREATE SCHEMA extra; CREATE TABLE extra.t (x int);")
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "010_extra.broken.sql").write_text(
        "CREATE VIEW extra.broken AS SELECT no_such_column FROM extra.t;"
    )
    with psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.UndefinedColumn):
            migrate(conn, tmp_path)
        conn.rollback()
        assert conn.execute("SELECT to_regclass('extra.t')").fetchone() == (None,)


@pytest.mark.parametrize(
    "names",
    [("010_extra.a.sql", "010_extra.b.sql"), ("010_no_schema.sql",)],
    ids=["a number twice", "no schema in the name"],
)
def test_definitions_must_be_numbered_and_named_after_their_object(tmp_path, names):
    (tmp_path / "definitions").mkdir()
    for name in names:
        (tmp_path / "definitions" / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError):
        definitions(tmp_path)


def test_a_script_applied_as_the_baseline_has_it_is_accepted(new_database, tmp_path):
    """A script that shed its definitions: a warehouse that applied it as it was before keeps
    working with it as it is now, and any other content is still refused."""
    url = new_database()
    before = "CREATE SCHEMA extra; CREATE TABLE extra.t (x int); CREATE VIEW extra.v AS SELECT 1;"
    after = "CREATE SCHEMA extra; CREATE TABLE extra.t (x int);"
    second = "CREATE TABLE extra.u (x int);"
    (tmp_path / "001_first.sql").write_text(before)
    (tmp_path / "002_second.sql").write_text(second)
    with psycopg.connect(url) as conn:
        migrate(conn, tmp_path)
    (tmp_path / "001_first.sql").write_text(after)
    (tmp_path / "rebaselined.txt").write_text(
        "# script, as applied before, as it is now\n\n"
        f"001_first.sql {_sha256(before)} {_sha256(after)}\n"
        f"002_second.sql {_sha256(second)} {_sha256(second)}\n"
    )
    with psycopg.connect(url) as conn:
        assert migrate(conn, tmp_path) == []
        for changed_again in ("CREATE SCHEMA extra;", before + " SELECT 2;"):
            (tmp_path / "001_first.sql").write_text(changed_again)
            with pytest.raises(MigrationError, match=r"001_first\.sql changed"):
                migrate(conn, tmp_path)
            conn.rollback()


def test_a_warehouse_short_of_the_baseline_is_refused(new_database, tmp_path):
    """A baselined script no longer moves the rows an older warehouse holds: a warehouse that
    recorded some migrations but not all of the baseline's is left as it is."""
    url = new_database()
    (tmp_path / "001_first.sql").write_text("CREATE SCHEMA extra; CREATE TABLE extra.t (x int);")
    with psycopg.connect(url) as conn:
        migrate(conn, tmp_path)
        conn.execute("INSERT INTO extra.t VALUES (1)")
        conn.commit()
    (tmp_path / "002_replace.sql").write_text("DROP TABLE extra.t; CREATE TABLE extra.t (y int);")
    (tmp_path / "rebaselined.txt").write_text(
        "".join(
            f"{p.name} {_sha256(p.read_text())} {_sha256(p.read_text())}\n"
            for p in sorted(tmp_path.glob("*.sql"))
        )
    )
    with psycopg.connect(url) as conn:
        with pytest.raises(MigrationError, match=r"not 002_replace\.sql"):
            migrate(conn, tmp_path)
        conn.rollback()
        assert conn.execute("SELECT x FROM extra.t").fetchall() == [(1,)]
    # A new database applies the whole baseline at once.
    with psycopg.connect(new_database()) as conn:
        assert migrate(conn, tmp_path) == ["001_first.sql", "002_replace.sql"]


def _scripts_before_definitions():
    """(name, content) of the numbered scripts up to 050 as warehouses applied them until their
    definitions moved out: the frozen copies where a script changed, else as it is."""
    frozen = {
        path.name.removesuffix(".txt"): path.read_text()
        for path in BEFORE_DEFINITIONS.glob("*.sql.txt")
    }
    return [(m.name, frozen.get(m.name, m.sql)) for m in available() if m.version <= 50]


def _migrate_as_before(url, through="050_delivery_addresses_by_month.sql"):
    """What etl.warehouse.migrations did until the definitions moved out: the numbered scripts (as
    they were) applied and recorded in ops.schema_migrations, nothing else."""
    with psycopg.connect(url) as conn:
        conn.execute("CREATE SCHEMA ops")
        conn.execute(RECORDS["ops.schema_migrations"])
        for name, sql in _scripts_before_definitions():
            if name > through:
                break
            conn.execute(sql)
            conn.execute(
                "INSERT INTO ops.schema_migrations VALUES (%s, %s, %s)",
                (int(name[:3]), name, _sha256(sql)),
            )


def _without_definitions_record(catalog):
    return [line for line in catalog if "schema_definitions" not in line]


def _without_references_to_transactions(catalog):
    """The catalog but the references to transactions and the functions' bodies: 061 (a
    numbered script after the move to definitions) replaced the references of the partitioned
    lines and delivery addresses with references between each month's partitions, and
    definitions change after the move as any code does. A function is compared by its
    signature, owner and privileges; one defined since the move is left out."""
    kept = []
    for line in catalog:
        if re.search(r"FOREIGN KEY .* REFERENCES (warehouse|partitions)\.\w*transactions", line):
            continue
        if line.startswith("function "):
            signature = line.split("\n", 1)[0]
            if any(name in signature for name in _DEFINED_SINCE_THE_MOVE):
                continue
            line = f"{signature} owner{line.rsplit(' owner', 1)[1]}"
        kept.append(line)
    return sorted(kept)


# Functions the definitions gained after the move (sql-scripts/definitions/).
_DEFINED_SINCE_THE_MOVE = ("ops.refer_to_month_of_transactions(", "ops.loads_in_effect(")


def _not_null_names_as_now(catalog):
    """PostgreSQL 18 names NOT NULL constraints. 020 made ops.load_log and warehouse.transactions
    while the tables they replace still held the plain names, so theirs got a 1 appended; now it
    makes them LIKE those tables, which copies the plain names. Nothing refers to them by name."""
    pattern = re.compile(
        r"^(constraint \w+_not_null)1( on (ops\.load_log|warehouse\.transactions)-)"
    )
    return sorted(pattern.sub(r"\1\2", line) for line in catalog)


def _scripts_through(directory, last):
    """A copy of sql-scripts/ in `directory` without the numbered scripts after version `last`."""
    shutil.copytree(SQL_SCRIPTS_DIR, directory)
    for migration in available():
        if migration.version > last:
            (directory / migration.name).unlink()
    return directory


def test_a_new_warehouse_has_the_schema_of_one_built_before_the_definitions(new_database, tmp_path):
    """The same tables, functions, views, triggers, grants and default privileges, whether the
    scripts as they were made them or the scripts and definitions as they are; and a warehouse
    built before, once migrated, is a new one (its record of definitions included)."""
    before, new = new_database(), new_database()
    _migrate_as_before(before)
    with psycopg.connect(new) as conn:
        # up to the scripts of the move (060, 061): a later script changes both alike
        migrate(conn, _scripts_through(tmp_path / "sql-scripts", 61))
    built_before = _without_references_to_transactions(
        _not_null_names_as_now(schema_catalog(before))
    )
    assert (
        _without_references_to_transactions(_without_definitions_record(schema_catalog(new)))
        == built_before
    )
    for url in (before, new):
        with psycopg.connect(url) as conn:
            migrate(conn)
    assert _not_null_names_as_now(schema_catalog(before)) == schema_catalog(new)


# The months of a warehouse's rows, whose partitions a copy of them needs.
_MONTHS = """
    SELECT date_trunc('month', transaction_time)::date FROM warehouse.transactions
    UNION SELECT date_trunc('month', partition_date)::date FROM ops.load_log
    UNION SELECT date_trunc('month', partition_date)::date FROM ops.quarantine
"""


def _without_sealed(checksums):
    return {t: c for t, c in checksums.items() if t not in SEALED_TABLES}


def _without_sealed_lines(catalog):
    """The catalog but for what 090 changed: the sealed tables' columns and indexes, and the
    tombstone's key_destroyed_at."""
    changed = (*SEALED_TABLES, "key_destroyed_at")
    return {line for line in catalog if not any(name in line for name in changed)}


def test_a_warehouse_built_before_the_definitions_upgrades_with_its_data_and_marts(
    loaded_sample, new_database
):
    """The sample, stored by today's loader in a warehouse the scripts as they were made, its
    marts refreshed by their functions: migrating keeps every row of every table and mart, the
    schema, and the record of the scripts as they were applied; the marts still refresh."""
    url = new_database()
    _migrate_as_before(url)
    with psycopg.connect(loaded_sample) as source, psycopg.connect(url) as conn:
        months = [row[0] for row in source.execute(_MONTHS)]
        conn.execute(
            "SELECT ops.create_partition(p, m)"
            " FROM unnest(ops.partitioned_tables()) AS p, unnest(%s::date[]) AS m",
            (months,),
        )
    # Personal data is ciphertext today, which the plaintext columns of then do not take: the
    # move of those three tables through 090 is test_crypto_shredding's.
    copy_rows(loaded_sample, url, skip=SEALED_TABLES)
    with psycopg.connect(url) as conn:
        conn.execute("SELECT marts.refresh_all()")
    schemas = (*WAREHOUSE_SCHEMAS, "marts")
    before = _without_sealed(table_checksums(url, schemas))
    # of today's tables, those the scripts up to 050 made (later scripts add tables)
    assert before == {
        t: c for t, c in table_checksums(loaded_sample, schemas).items() if t in before
    }
    assert int(before["warehouse.transactions"].split(":")[0]) == 10_000
    catalog = schema_catalog(url)
    tables_before = _tables(url)
    record = "SELECT version, name, checksum FROM ops.schema_migrations ORDER BY 1"
    with psycopg.connect(url) as conn:
        recorded = conn.execute(record).fetchall()
        later = [m.name for m in available() if m.version > 50]
        assert migrate(conn) == later + [f"definitions/{d.name}" for d in definitions()]
        assert conn.execute(record).fetchall()[: -len(later)] == recorded
    after = _without_sealed(table_checksums(url, schemas))
    # by the scripts after 061 (070's ops.schema_drift, 085's ops.key_fingerprints, which the
    # checksums leave out): empty, or the key fingerprints the migration recorded
    added = _tables(url) - tables_before
    assert {after[table] for table in added if table in after} <= {"0:"}
    assert {t: c for t, c in after.items() if t not in added} == before
    # 090 changed the columns of the sealed tables (and gave quarantine an index), nothing else
    assert _without_sealed_lines(
        _without_references_to_transactions(
            _without_definitions_record(
                [line for line in schema_catalog(url) if not any(t in line for t in added)]
            )
        )
    ) == _without_sealed_lines(_without_references_to_transactions(catalog))
    with psycopg.connect(url) as conn:
        assert migrate(conn) == []
        # The triggers note a change's day, and the refresh recomputes it.
        conn.execute(
            "DELETE FROM warehouse.transactions WHERE transaction_time::date = '2020-01-05'"
        )
        assert conn.execute("SELECT marts.refresh_pending()").fetchone() == (1,)
        assert conn.execute(
            "SELECT count(*) FROM marts.daily_sales WHERE sales_date = '2020-01-05'"
        ).fetchone() == (0,)
        conn.rollback()


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            row[0]
            for row in conn.execute(
                """
                SELECT table_schema || '.' || table_name FROM information_schema.tables
                WHERE table_type = 'BASE TABLE'
                  AND table_schema NOT IN ('pg_catalog', 'information_schema')
                """
            )
        }


def test_the_baseline_names_the_scripts_as_they_were_and_as_they_are():
    rebaselined = baseline()
    assert sorted(rebaselined) == [m.name for m in available() if m.version <= 50]
    for name, sql in _scripts_before_definitions():
        assert _sha256(sql) == rebaselined[name].before, name
        assert _sha256((SQL_SCRIPTS_DIR / name).read_text()) == rebaselined[name].after, name
    changed = sorted(name for name, r in rebaselined.items() if r.before != r.after)
    frozen = BEFORE_DEFINITIONS.glob("*.sql.txt")
    assert changed == sorted(path.name.removesuffix(".txt") for path in frozen)


def test_a_warehouse_built_before_the_definitions_but_not_up_to_050_is_left_as_it_is(
    new_database,
):
    url = new_database()
    _migrate_as_before(url, through="040_keys_in_time_order.sql")
    catalog = schema_catalog(url)
    refused = pytest.raises(MigrationError, match=r"not 050_delivery_addresses_by_month\.sql")
    with psycopg.connect(url) as conn, refused:
        migrate(conn)
    assert schema_catalog(url) == catalog


_CREATED = re.compile(
    r"CREATE (?:OR REPLACE )?(FUNCTION|VIEW|TRIGGER|PROCEDURE|RULE) ([\w.]+)", re.IGNORECASE
)


def test_every_function_view_and_trigger_is_defined_once_in_a_definition_of_its_own():
    numbered = [m.name for m in available() if _CREATED.search(m.sql)]
    assert numbered == [], "numbered scripts hold tables; functions, views, triggers: definitions/"
    where = {}
    for definition in definitions():
        for kind, name in _CREATED.findall(definition.sql):
            assert (kind.upper(), name) not in where, f"{name} in {definition.name} and elsewhere"
            where[kind.upper(), name] = definition.name
    # each file is named after the (first) object it defines
    for definition in definitions():
        first = next(name for (_, name), file in where.items() if file == definition.name)
        assert definition.name.split("_", 1)[1] == f"{first}.sql"


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _columns(conn, view):
    return [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'marts' AND table_name = %s ORDER BY ordinal_position",
            (view,),
        )
    ]


def test_a_change_to_a_mart_is_one_file_applied_again_alone(new_database, tmp_path):
    """In a copy of sql-scripts/: views whose columns change (which CREATE OR REPLACE VIEW could
    not do), one with a view that reads it, and a function; each change applies its file alone,
    once, and the analyst and the loader keep their privileges."""
    scripts = tmp_path / "sql-scripts"
    shutil.copytree(SQL_SCRIPTS_DIR, scripts)
    defined = scripts / "definitions"
    url = new_database()
    with psycopg.connect(url) as conn:
        migrate(conn, scripts)
    changes = [
        ("200_marts.customers_by_area.sql", "count(*) AS customers", "count(*) AS residents"),
        (
            "210_marts.customer_segments.sql",
            "       c.segment,\n",
            "       c.segment,\n       c.city,\n",
        ),
        ("130_marts.refresh_days.sql", "RETURN cardinality(days);", "RETURN -cardinality(days);"),
    ]
    for name, old, new in changes:
        _edit(defined / name, old, new)
        with psycopg.connect(url) as conn:
            assert migrate(conn, scripts) == [f"definitions/{name}"]
            assert migrate(conn, scripts) == []
    with psycopg.connect(make_conninfo(url, user="warehouse_analyst")) as analyst:
        assert _columns(analyst, "customers_by_area")[-1] == "residents"
        assert _columns(analyst, "customer_segments")[:3] == ["customer_key", "segment", "city"]
        for view in ("customers_by_area", "customer_segments", "segment_repeat_rates"):
            analyst.execute(f"SELECT * FROM marts.{view}")
    with psycopg.connect(make_conninfo(url, user="warehouse_loader")) as loader:
        assert loader.execute("SELECT marts.refresh('2020-01-01', '2020-01-03')").fetchone() == (
            -3,
        )
