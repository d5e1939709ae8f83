-- 070: the record of schema drift: fields the source sent that their dataset's schema does not
-- know (etl/schema_drift.py).
--
-- One row per landing file and unknown field: where in the file it first came and how many of
-- the file's records carried it, under the contract the load applied (freeze: those records
-- were quarantined; discard_value: they loaded without the field). Never the field's value: it
-- may be personal data nobody agreed to hold. A changed file replaces its rows, as it replaces
-- its quarantine, so counts never double; the table is small (rows only when the source
-- drifts), so it is not partitioned.

CREATE TABLE ops.schema_drift (
    dataset        text NOT NULL,
    -- the landing folder of source_file (date=YYYY-MM-DD/hour=HH), as in ops.load_log
    partition_date date NOT NULL,
    partition_hour smallint NOT NULL CHECK (partition_hour BETWEEN 0 AND 23),
    source_file    text NOT NULL,
    -- a JSON path; items of arrays as [*]: $.purchases.products[*].discount
    field          text NOT NULL,
    first_line     integer NOT NULL CHECK (first_line > 0),
    records        integer NOT NULL CHECK (records > 0),
    contract       text NOT NULL CHECK (contract IN ('freeze', 'discard_value')),
    PRIMARY KEY (source_file, field)
);
CREATE INDEX schema_drift_partition ON ops.schema_drift (dataset, partition_date, partition_hour);

-- Field names and counts only: the analyst may read it all. Both roles that load files (the
-- privacy officer loads the erasure requests) write it and replace a changed file's rows.
GRANT ALL ON ops.schema_drift TO warehouse_loader;
GRANT SELECT ON ops.schema_drift TO warehouse_analyst;
GRANT SELECT, INSERT, DELETE ON ops.schema_drift TO warehouse_privacy_officer;
