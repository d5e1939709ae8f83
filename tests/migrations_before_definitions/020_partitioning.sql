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
-- runs as the owner. There is no DEFAULT partition: it would hide a missing month, and every
-- later month's creation would have to scan it and move its rows out; a row with no partition
-- is an error that fails its file, and the loader never lets it come to that.
--
-- A transaction id is unique across every month: the narrow, unpartitioned
-- warehouse.transaction_ids holds each stored id once, with its month and its place in the
-- landing zone. The merge finds earlier copies there, by primary key, without visiting any
-- partition (etl/transactions_etl.py), and delivery addresses refer to it.
--
-- `warehouse partitions detach --before YYYY-MM` (etl/table_partitions.py) takes old months of
-- transactions, items and quarantine out; the load log keeps every month, as the record of what
-- was loaded (one row per file: small), so that an old file is not loaded again.

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

------------------------------------------------------------------- the partitioned tables
CREATE FUNCTION ops.partitioned_tables() RETURNS regclass[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY['warehouse.transactions', 'warehouse.transaction_items', 'ops.quarantine',
                 'ops.load_log']::regclass[]
$$;

-- partitions.<schema>_<table>_YYYY_MM, the partition of `parent` holding `month`.
CREATE FUNCTION ops.partition_name(parent regclass, month date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT n.nspname || '_' || c.relname || '_' || to_char(month, 'YYYY_MM')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent
$$;

-- The (table, month) pairs among `months` that have no partition yet: the loader's cheap check
-- (catalog look-ups, no lock).
CREATE FUNCTION ops.missing_partitions(months date[])
RETURNS TABLE (parent regclass, month date)
LANGUAGE sql STABLE AS $$
    SELECT p.parent, m.month
    FROM unnest(ops.partitioned_tables()) AS p(parent)
    CROSS JOIN (SELECT DISTINCT date_trunc('month', d)::date FROM unnest(months) AS d) AS m(month)
    WHERE to_regclass('partitions.' || ops.partition_name(p.parent, m.month)) IS NULL
    ORDER BY 1, 2
$$;

-- Create the partition of `parent` for `month` unless it exists; true when it was created.
-- Creations take turns on an advisory lock, so that two loaders needing a new month at once
-- create it once. CREATE ... PARTITION OF locks the parent exclusively for a moment: the loader
-- calls this in a transaction of its own, holding no other lock (etl/table_partitions.py).
CREATE FUNCTION ops.create_partition(parent regclass, month date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    name text := ops.partition_name(parent, first_day);
    existing regclass;
BEGIN
    IF parent IS NULL OR NOT parent = ANY (ops.partitioned_tables()) THEN
        RAISE EXCEPTION '% is not partitioned by month', parent;
    END IF;
    PERFORM pg_advisory_xact_lock(11, 0);
    -- Read from pg_class, whose snapshot is taken now, after the lock: to_regclass could answer
    -- from a cache that has not yet seen the partition another process just created.
    SELECT c.oid INTO existing FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'partitions' AND c.relname = name;
    IF existing IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = existing AND inhparent = parent)
        THEN
            RAISE EXCEPTION 'partitions.% exists but is not a partition of %', name, parent;
        END IF;
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE partitions.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   name, parent, first_day, (first_day + interval '1 month')::date);
    RETURN true;
END
$$;

----------------------------------------------------------- the tables as they were, set aside
-- marts.transactions_on returns rows of warehouse.transactions: it is recreated below.
DROP FUNCTION marts.transactions_on(date[]);
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

CREATE TABLE warehouse.transactions (
    transaction_id             uuid NOT NULL,
    customer_key               warehouse.pseudonym NOT NULL,
    transaction_time           timestamp NOT NULL,
    delivery_city              text NOT NULL,
    delivery_country           text NOT NULL,
    delivery_postcode_district text,
    total_cost                 warehouse.money NOT NULL,
    source_file                text NOT NULL,
    source_line                integer NOT NULL
) PARTITION BY RANGE (transaction_time);

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

-- As in 001, with the same meaning of each status and count.
CREATE TABLE ops.load_log (
    load_id             bigint GENERATED ALWAYS AS IDENTITY,
    dataset             text NOT NULL,
    partition_date      date NOT NULL,
    partition_hour      smallint NOT NULL CHECK (partition_hour BETWEEN 0 AND 23),
    source_file         text NOT NULL,
    checksum            text NOT NULL,
    status              text NOT NULL
        CHECK (status IN ('loaded', 'rejected', 'failed', 'scrubbed')),
    records_read        integer NOT NULL DEFAULT 0,
    records_loaded      integer NOT NULL DEFAULT 0,
    records_duplicate   integer NOT NULL DEFAULT 0,
    records_quarantined integer NOT NULL DEFAULT 0,
    records_erased      integer NOT NULL DEFAULT 0,
    records_scrubbed    integer NOT NULL DEFAULT 0,
    orphans             integer NOT NULL DEFAULT 0,
    error               text,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
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

------------------------------------------------------------------------ the rows, moved
-- The date of a landing file's folder: date=YYYY-MM-DD/hour=HH/<dataset>.json[.gz].
CREATE FUNCTION ops.landing_date(source_file text) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
    SELECT make_date(substring(source_file FROM 'date=([0-9]{4})-')::integer,
                     substring(source_file FROM 'date=[0-9]{4}-([0-9]{2})-')::integer,
                     substring(source_file FROM 'date=[0-9]{4}-[0-9]{2}-([0-9]{2})')::integer)
$$;

SELECT ops.create_partition(p.parent, m.month)
FROM unnest(ops.partitioned_tables()) AS p(parent)
CROSS JOIN (
    SELECT date_trunc('month', transaction_time)::date FROM warehouse.transactions_before_020
    UNION SELECT date_trunc('month', partition_date)::date FROM ops.load_log_before_020
    UNION SELECT date_trunc('month', ops.landing_date(source_file))::date
    FROM ops.quarantine_before_020
) AS m(month);

INSERT INTO warehouse.transaction_ids (transaction_id, transaction_time, source_file, source_line)
SELECT transaction_id, transaction_time, source_file, source_line
FROM warehouse.transactions_before_020;
INSERT INTO warehouse.transactions
SELECT transaction_id, customer_key, transaction_time, delivery_city, delivery_country,
       delivery_postcode_district, total_cost, source_file, source_line
FROM warehouse.transactions_before_020;
INSERT INTO warehouse.transaction_items
SELECT i.transaction_id, t.transaction_time, i.line_number, i.sku, i.quantity, i.price, i.total
FROM warehouse.transaction_items_before_020 i
JOIN warehouse.transactions_before_020 t USING (transaction_id);
INSERT INTO ops.load_log OVERRIDING SYSTEM VALUE
SELECT load_id, dataset, partition_date, partition_hour, source_file, checksum, status,
       records_read, records_loaded, records_duplicate, records_quarantined, records_erased,
       records_scrubbed, orphans, error, started_at, finished_at
FROM ops.load_log_before_020;
INSERT INTO ops.quarantine
SELECT dataset, ops.landing_date(source_file), source_file, line_number, errors, payload
FROM ops.quarantine_before_020;
DO $$
BEGIN
    EXECUTE format('ALTER TABLE ops.load_log ALTER COLUMN load_id RESTART WITH %s',
                   (SELECT coalesce(max(load_id), 0) + 1 FROM ops.load_log));
END
$$;

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
-- The triggers of 010, on the new tables.
CREATE TRIGGER transactions_inserted AFTER INSERT ON warehouse.transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('transaction_time');
CREATE TRIGGER transactions_updated AFTER UPDATE ON warehouse.transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('transaction_time');
CREATE TRIGGER transactions_deleted AFTER DELETE ON warehouse.transactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('transaction_time');
CREATE TRIGGER load_log_inserted AFTER INSERT ON ops.load_log
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('partition_date');

-- As in 010: the planner prunes to the days' months.
CREATE FUNCTION marts.transactions_on(days date[]) RETURNS SETOF warehouse.transactions
LANGUAGE sql STABLE AS $$
    SELECT t.* FROM unnest(days) AS d(day)
    JOIN warehouse.transactions t ON t.transaction_time >= d.day AND t.transaction_time < d.day + 1
$$;
REVOKE EXECUTE ON FUNCTION marts.transactions_on(date[]) FROM PUBLIC;

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
INSERT INTO marts.customer_months
SELECT customer_key, date_trunc('month', transaction_time)::date, min(transaction_time)::date,
       max(transaction_time)::date, count(*), sum(total_cost)
FROM warehouse.transactions GROUP BY 1, 2;

-- As in 010, but items are found by (transaction_id, transaction_time), in their month only,
-- and customers through marts.customer_months.
CREATE OR REPLACE FUNCTION marts.refresh_days(days date[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    customer_keys text[];
    skus integer[];
    month_start date;
BEGIN
    days := ARRAY(SELECT DISTINCT d FROM unnest(days) AS d WHERE d IS NOT NULL ORDER BY d);
    IF cardinality(days) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(10, 0);

    DELETE FROM marts.daily_sales WHERE sales_date = ANY (days);
    DELETE FROM marts.hourly_sales WHERE sales_date = ANY (days);
    WITH sold AS (
        SELECT t.transaction_time, t.customer_key, t.total_cost, i.items, i.units
        FROM marts.transactions_on(days) t
        CROSS JOIN LATERAL (
            SELECT count(*) AS items, coalesce(sum(quantity), 0) AS units
            FROM warehouse.transaction_items
            WHERE transaction_id = t.transaction_id AND transaction_time = t.transaction_time
        ) i
    ), by_hour AS (
        INSERT INTO marts.hourly_sales (sales_date, sales_hour, orders, items, units, revenue,
                                        customers)
        SELECT transaction_time::date, extract(hour FROM transaction_time), count(*), sum(items),
               sum(units), sum(total_cost), count(DISTINCT customer_key)
        FROM sold GROUP BY 1, 2
    )
    INSERT INTO marts.daily_sales (sales_date, orders, items, units, revenue, customers)
    SELECT transaction_time::date, count(*), sum(items), sum(units), sum(total_cost),
           count(DISTINCT customer_key)
    FROM sold GROUP BY 1;

    DELETE FROM marts.product_daily_sales WHERE sales_date = ANY (days);
    INSERT INTO marts.product_daily_sales (sales_date, sku, orders, units, revenue)
    SELECT t.transaction_time::date, i.sku, count(DISTINCT t.transaction_id), sum(i.quantity),
           sum(i.total)
    FROM marts.transactions_on(days) t
    JOIN warehouse.transaction_items i
      ON i.transaction_id = t.transaction_id AND i.transaction_time = t.transaction_time
    -- bounds known when the statement starts: the items of the days' months only, whichever
    -- way the planner joins
    WHERE i.transaction_time >= days[1] AND i.transaction_time < days[cardinality(days)] + 1
    GROUP BY 1, 2;

    DELETE FROM marts.area_daily_sales WHERE sales_date = ANY (days);
    INSERT INTO marts.area_daily_sales (sales_date, country, city, postcode_district, orders,
                                        revenue)
    SELECT transaction_time::date, delivery_country, delivery_city, delivery_postcode_district,
           count(*), sum(total_cost)
    FROM marts.transactions_on(days)
    GROUP BY 1, 2, 3, 4;

    customer_keys := ARRAY(
        SELECT customer_key FROM marts.transactions_on(days)
        UNION
        SELECT customer_key FROM marts.customer_orders o
        WHERE o.last_order_date >= days[1] AND o.first_order_date <= days[cardinality(days)]
          AND EXISTS (SELECT 1 FROM unnest(days) AS d
                      WHERE d BETWEEN o.first_order_date AND o.last_order_date)
    );
    -- One month at a time: its bounds are known when the statement starts, so it reads that
    -- month's partition only.
    FOREACH month_start IN ARRAY ARRAY(SELECT DISTINCT date_trunc('month', d)::date
                                       FROM unnest(days) AS d) LOOP
        DELETE FROM marts.customer_months
        WHERE customer_key = ANY (customer_keys) AND month = month_start;
        INSERT INTO marts.customer_months (customer_key, month, first_order_date,
                                           last_order_date, orders, revenue)
        SELECT customer_key, month_start, min(transaction_time)::date,
               max(transaction_time)::date, count(*), sum(total_cost)
        FROM warehouse.transactions
        WHERE customer_key = ANY (customer_keys)
          AND transaction_time >= month_start
          AND transaction_time < month_start + interval '1 month'
        GROUP BY customer_key;
    END LOOP;
    DELETE FROM marts.customer_orders WHERE customer_key = ANY (customer_keys);
    INSERT INTO marts.customer_orders (customer_key, first_order_date, last_order_date, orders,
                                       revenue)
    SELECT customer_key, min(first_order_date), max(last_order_date), sum(orders), sum(revenue)
    FROM marts.customer_months WHERE customer_key = ANY (customer_keys)
    GROUP BY customer_key;

    skus := ARRAY(
        SELECT sku FROM warehouse.product_catalogue WHERE catalogue_date = ANY (days)
        UNION
        SELECT sku FROM marts.product_price_changes
        WHERE catalogue_date = ANY (days) OR previous_catalogue_date = ANY (days)
    );
    DELETE FROM marts.product_price_changes WHERE sku = ANY (skus);
    INSERT INTO marts.product_price_changes (sku, catalogue_date, previous_catalogue_date,
                                             previous_price, price)
    SELECT sku, catalogue_date, previous_catalogue_date, previous_price, price
    FROM (
        SELECT sku, catalogue_date, price,
               lag(catalogue_date) OVER history AS previous_catalogue_date,
               lag(price) OVER history AS previous_price
        FROM warehouse.product_catalogue WHERE sku = ANY (skus)
        WINDOW history AS (PARTITION BY sku ORDER BY catalogue_date)
    ) priced
    WHERE price <> previous_price;

    DELETE FROM marts.data_quality WHERE partition_date = ANY (days);
    INSERT INTO marts.data_quality (
        dataset, partition_date, files, files_rejected, files_failed, records_read,
        records_loaded, records_duplicate, records_quarantined, records_erased, orphans
    )
    WITH logged AS (
        SELECT * FROM ops.load_log WHERE partition_date = ANY (days)
    ), in_effect AS (
        SELECT DISTINCT ON (source_file) * FROM logged
        WHERE status IN ('loaded', 'rejected')
        ORDER BY source_file, load_id DESC
    ), last_attempt AS (
        SELECT DISTINCT ON (source_file) dataset, partition_date, source_file, status FROM logged
        ORDER BY source_file, load_id DESC
    )
    SELECT a.dataset, a.partition_date, count(*),
           count(*) FILTER (WHERE e.status = 'rejected'),
           count(*) FILTER (WHERE a.status = 'failed'),
           coalesce(sum(e.records_read), 0), coalesce(sum(e.records_loaded), 0),
           coalesce(sum(e.records_duplicate), 0), coalesce(sum(e.records_quarantined), 0),
           coalesce(sum(e.records_erased), 0), coalesce(sum(e.orphans), 0)
    FROM last_attempt a LEFT JOIN in_effect e ON e.source_file = a.source_file
    GROUP BY a.dataset, a.partition_date;

    RETURN cardinality(days);
END
$$;

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
REVOKE EXECUTE ON FUNCTION ops.create_partition(regclass, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.create_partition(regclass, date)
    TO warehouse_loader, warehouse_privacy_officer;
