-- 020: the large tables partitioned by month, so that a load's cost and the usual queries (a day,
-- a month) stay the same however much history the warehouse holds.
--
--   warehouse.transactions       RANGE (transaction_time)  a transaction's month
--   warehouse.transaction_items  RANGE (transaction_time)  its transaction's month (column added)
--   ops.quarantine               RANGE (partition_date)    the landing file's month (column added)
--   ops.load_log                 RANGE (partition_date)    the landing file's month
--
-- Partitions live in the schema `partitions`, named <schema>_<table>_YYYY_MM
-- (partitions.warehouse_transactions_2020_01). Nobody is granted anything there: every reader
-- and writer goes through the parent, whose privileges (migration 002) are the only ones
-- checked, so the analyst still sees no quarantine payload. The loader creates a month's
-- partitions before it needs them (etl/table_partitions.py) through ops.create_partition, which
-- runs as the owner (it and the other functions of partitions: definitions/*ops.*). There is no
-- DEFAULT partition: it would hide a missing month, and every later month's creation would have
-- to scan it and move its rows out; a row with no partition is an error that fails its file,
-- and the loader never lets it come to that.
--
-- A transaction id is unique across every month: the narrow, unpartitioned
-- warehouse.transaction_ids holds each stored id once, with its month and its place in the
-- landing zone. The merge finds earlier copies there, by primary key, without visiting any
-- partition (etl/transactions_etl.py), and delivery addresses refer to it.
--
-- `warehouse partitions detach --before YYYY-MM` (etl/table_partitions.py) takes old months of
-- transactions, items and quarantine out; the load log keeps every month, as the record of what
-- was loaded (one row per file: small), so that an old file is not loaded again.
--
-- When this script first ran, it moved the rows of the warehouses that held some into the new
-- tables. It now runs on new databases only (rebaselined.txt), and makes the tables alone.

CREATE SCHEMA IF NOT EXISTS partitions;
-- Detached months kept in the database: out of every query, re-attachable by hand.
CREATE SCHEMA IF NOT EXISTS archive;

-- What remains of each detached month: where it went, for `warehouse partitions list` and for
-- `warehouse verify-erasure`, which searches the archive files too.
-- A month can be detached more than once (a changed old file loads it again).
CREATE TABLE ops.detached_partitions (
    detachment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent        text NOT NULL,
    month         date NOT NULL,
    rows          bigint NOT NULL,
    -- kept: a table in the schema archive; archived: a file; dropped: gone (quarantine)
    outcome       text NOT NULL CHECK (outcome IN ('kept', 'archived', 'dropped')),
    location      text,
    sha256        text,
    detached_at   timestamptz NOT NULL DEFAULT now()
);

----------------------------------------------------------- the tables as they were, set aside
ALTER TABLE pii.delivery_addresses DROP CONSTRAINT delivery_addresses_transaction_id_fkey;
ALTER TABLE warehouse.transaction_items RENAME TO transaction_items_before_020;
ALTER TABLE warehouse.transactions RENAME TO transactions_before_020;
ALTER TABLE ops.quarantine RENAME TO quarantine_before_020;
ALTER TABLE ops.load_log RENAME TO load_log_before_020;

----------------------------------------------------------------------- the new tables
CREATE TABLE warehouse.transaction_ids (
    transaction_id   uuid PRIMARY KEY,
    transaction_time timestamp NOT NULL,
    source_file      text NOT NULL,
    source_line      integer NOT NULL
);

-- As in 001: its columns (keys and indexes follow below).
CREATE TABLE warehouse.transactions (LIKE warehouse.transactions_before_020)
    PARTITION BY RANGE (transaction_time);

-- transaction_time is the transaction's: it puts a line in its transaction's month.
CREATE TABLE warehouse.transaction_items (
    transaction_id   uuid NOT NULL,
    transaction_time timestamp NOT NULL,
    line_number      smallint NOT NULL,
    sku              integer NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    price            warehouse.money NOT NULL,
    total            warehouse.money NOT NULL
) PARTITION BY RANGE (transaction_time);

-- As in 001, with the same meaning of each status and count (keys and indexes follow below).
CREATE TABLE ops.load_log (
    LIKE ops.load_log_before_020 INCLUDING DEFAULTS INCLUDING IDENTITY,
    CHECK (partition_hour BETWEEN 0 AND 23),
    CHECK (status IN ('loaded', 'rejected', 'failed', 'scrubbed')),
    CONSTRAINT every_record_accounted_for CHECK (
        records_read = records_loaded + records_duplicate + records_quarantined + records_erased
    ),
    CONSTRAINT scrubbed_are_loaded CHECK (records_scrubbed <= records_loaded)
) PARTITION BY RANGE (partition_date);

-- partition_date is the landing file's (date=YYYY-MM-DD of source_file).
CREATE TABLE ops.quarantine (
    dataset        text NOT NULL,
    partition_date date NOT NULL,
    source_file    text NOT NULL,
    line_number    integer NOT NULL,
    errors         jsonb NOT NULL,
    payload        text NOT NULL
) PARTITION BY RANGE (partition_date);

DROP TABLE warehouse.transaction_items_before_020, warehouse.transactions_before_020,
    ops.quarantine_before_020, ops.load_log_before_020;

------------------------------------------------------------------ keys, indexes, references
-- A key of a partitioned table includes its partition column; transaction_ids keeps ids unique.
ALTER TABLE warehouse.transactions ADD PRIMARY KEY (transaction_id, transaction_time);
CREATE INDEX transactions_customer ON warehouse.transactions (customer_key);
CREATE INDEX transactions_time ON warehouse.transactions (transaction_time);
CREATE INDEX transaction_ids_source ON warehouse.transaction_ids (source_file);

ALTER TABLE warehouse.transaction_items
    ADD PRIMARY KEY (transaction_id, transaction_time, line_number),
    ADD FOREIGN KEY (transaction_id, transaction_time)
        REFERENCES warehouse.transactions ON DELETE CASCADE;
CREATE INDEX transaction_items_sku ON warehouse.transaction_items (sku);

ALTER TABLE pii.delivery_addresses
    ADD FOREIGN KEY (transaction_id) REFERENCES warehouse.transaction_ids ON DELETE CASCADE;

ALTER TABLE ops.load_log ADD PRIMARY KEY (load_id, partition_date);
CREATE INDEX load_log_file ON ops.load_log (source_file, load_id DESC);
CREATE INDEX load_log_partition ON ops.load_log (dataset, partition_date, partition_hour);

ALTER TABLE ops.quarantine ADD PRIMARY KEY (source_file, line_number, partition_date);
CREATE INDEX quarantine_dataset ON ops.quarantine (dataset);

----------------------------------------------------------------------------- marts
-- Per pseudonym and month: what marts.customer_orders sums. Refreshing a day recomputes its
-- customers' rows of that day's month from that month's partition alone, and their lifetime row
-- from these few rows, instead of reading every month of their history.
CREATE TABLE marts.customer_months (
    customer_key      warehouse.pseudonym NOT NULL,
    month             date NOT NULL,
    first_order_date  date NOT NULL,
    last_order_date   date NOT NULL,
    orders            integer NOT NULL,
    revenue           numeric(14, 2) NOT NULL,
    PRIMARY KEY (customer_key, month)
);

-------------------------------------------------------------------------------- grants
-- As 002 and 010 granted on the tables replaced. Partitions get nothing: see the top.
GRANT ALL ON warehouse.transactions, warehouse.transaction_items, warehouse.transaction_ids,
    ops.load_log, ops.quarantine, ops.detached_partitions TO warehouse_loader;
GRANT ALL ON ALL SEQUENCES IN SCHEMA ops TO warehouse_loader;
GRANT SELECT ON warehouse.transactions, warehouse.transaction_items, warehouse.transaction_ids,
    ops.load_log, ops.detached_partitions TO warehouse_analyst;
GRANT SELECT (dataset, partition_date, source_file, line_number) ON ops.quarantine
    TO warehouse_analyst;
GRANT SELECT ON warehouse.transactions, warehouse.transaction_items, warehouse.transaction_ids,
    ops.load_log, ops.quarantine, ops.detached_partitions TO warehouse_privacy_officer;
GRANT DELETE ON ops.quarantine TO warehouse_privacy_officer;
GRANT UPDATE (error) ON ops.load_log TO warehouse_privacy_officer;
GRANT INSERT ON ops.load_log, ops.quarantine TO warehouse_privacy_officer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO warehouse_privacy_officer;
GRANT SELECT ON marts.customer_months TO warehouse_analyst;
-- Key rotation (etl/key_rotation.py) re-keys customer_months with every other pseudonym.
GRANT SELECT, UPDATE (customer_key) ON marts.customer_months TO warehouse_loader;
-- Both roles load files (the privacy officer the erasure requests), so both create months.
GRANT USAGE ON SCHEMA partitions TO warehouse_loader, warehouse_privacy_officer;
