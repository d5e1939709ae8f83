-- Create the partition of `parent` for `month` unless it exists; true when it was created.
-- Creations take turns on an advisory lock, so that two loaders needing a new month at once
-- create it once. CREATE ... PARTITION OF locks the parent exclusively for a moment: the loader
-- calls this in a transaction of its own, holding no other lock (etl/warehouse/monthly_partitions.py). A
-- month's partition of purchased lines or delivery addresses refers to the same month's
-- partition of transactions (061), which is created first when it is missing.
CREATE OR REPLACE FUNCTION ops.create_partition(parent regclass, month date) RETURNS boolean
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
    IF parent IN ('warehouse.transaction_items'::regclass, 'pii.delivery_addresses'::regclass) THEN
        PERFORM ops.create_partition('warehouse.transactions', first_day);
    END IF;
    EXECUTE format('CREATE TABLE partitions.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   name, parent, first_day, (first_day + interval '1 month')::date);
    IF parent IN ('warehouse.transaction_items'::regclass, 'pii.delivery_addresses'::regclass) THEN
        PERFORM ops.refer_to_month_of_transactions(parent, first_day);
    END IF;
    RETURN true;
END
$$;

-- It runs as the owner. Both roles load files (the privacy officer the erasure requests), so
-- both create months.
REVOKE EXECUTE ON FUNCTION ops.create_partition(regclass, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.create_partition(regclass, date)
    TO warehouse_loader, warehouse_privacy_officer;
