-- 060: the record of the definitions (sql-scripts/definitions/) is read as the record of the
-- migrations is (002).
--
-- The migrator creates ops.schema_definitions itself (etl/migrations.py), before any script runs
-- in a new database and so before 002 grants on every table of ops; in a warehouse older than
-- the definitions, after. Granted here, both end up the same.

GRANT ALL ON ops.schema_definitions TO warehouse_loader;
GRANT SELECT ON ops.schema_definitions TO warehouse_privacy_officer, warehouse_analyst;
