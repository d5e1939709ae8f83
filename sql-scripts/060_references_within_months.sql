-- 060: a month's purchased lines and delivery addresses refer to that month's transactions,
-- partition to partition, instead of to the partitioned warehouse.transactions.
--
-- A reference to a partitioned table is checked, for every inserted row, by a query on the
-- whole table that prunes its months as it runs, and that locks every month's partition and
-- index first: with eleven months of history, a load's items took four times as long with the
-- reference as without it (7,488 lines: 224 ms against 51 ms), and the cost grew with every
-- month. A reference between two partitions is checked in one plain table, whatever the
-- history. It means the same: a line's or an address's transaction_time is its
-- transaction's, so its month's partition refers to the same month's partition, and deleting a
-- transaction (through the parent) still takes its lines and address along (ON DELETE CASCADE).
--
-- It also ends a deadlock between loaders at month boundaries. Creating a month's partition of
-- a table that refers to the partitioned transactions locked transactions too (to copy the
-- reference to the new partition), after the table being extended: a loader merging the month
-- before, holding transactions and waiting for transaction_items, closed the cycle. A
-- partition's reference to its month's partition of transactions locks only that new partition.

-- The references of the partitioned tables themselves go.
DO $$
DECLARE
    reference record;
BEGIN
    FOR reference IN
        SELECT conrelid::regclass AS referring, conname
        FROM pg_constraint
        WHERE contype = 'f' AND conparentid = 0
          AND conrelid IN ('warehouse.transaction_items'::regclass, 'pii.delivery_addresses'::regclass)
          AND confrelid = 'warehouse.transactions'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', reference.referring, reference.conname);
    END LOOP;
END
$$;

-- The reference of a month's partition of a referring table to the same month's partition of
-- warehouse.transactions, unless it has one; the partition of transactions must exist.
CREATE FUNCTION ops.refer_to_month_of_transactions(referring regclass, month date)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    partition regclass := to_regclass('partitions.' || ops.partition_name(referring, month));
    transactions regclass := to_regclass(
        'partitions.' || ops.partition_name('warehouse.transactions', month));
BEGIN
    IF NOT referring = ANY (ARRAY['warehouse.transaction_items',
                                  'pii.delivery_addresses']::regclass[]) THEN
        RAISE EXCEPTION '% does not refer to transactions', referring;
    END IF;
    IF partition IS NULL OR transactions IS NULL THEN
        RAISE EXCEPTION 'no partition of % or of warehouse.transactions for %', referring, month;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = partition AND confrelid = transactions AND contype = 'f') THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %s ADD FOREIGN KEY (transaction_time, transaction_id) '
                   'REFERENCES %s (transaction_time, transaction_id) ON DELETE CASCADE',
                   partition, transactions);
END
$$;
REVOKE EXECUTE ON FUNCTION ops.refer_to_month_of_transactions(regclass, date) FROM PUBLIC;

-- Every month already there (checked against its rows, as any new reference is).
SELECT ops.refer_to_month_of_transactions(p.parent, m.month)
FROM unnest(ARRAY['warehouse.transaction_items', 'pii.delivery_addresses']::regclass[]) AS p(parent)
CROSS JOIN (
    SELECT to_date(substring(c.relname FROM '(\d{4}_\d{2})$'), 'YYYY_MM') AS month
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'warehouse.transactions'::regclass
) AS m
WHERE to_regclass('partitions.' || ops.partition_name(p.parent, m.month)) IS NOT NULL;

-- As in 020, and a new month's partition of lines or addresses refers to the same month's
-- transactions, which is created first when it is missing.
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
