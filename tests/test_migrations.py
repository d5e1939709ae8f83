"""Migrations: applied once each, in order, recorded; a changed script is refused."""

import psycopg
import pytest

from etl.migrations import MigrationError, available, migrate


def test_second_run_applies_nothing(new_database):
    url = new_database()
    with psycopg.connect(url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        recorded = [row[0] for row in conn.execute("SELECT name FROM ops.schema_migrations")]
    assert first == [m.name for m in available()] == sorted(first)
    assert second == []
    assert recorded == first


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
