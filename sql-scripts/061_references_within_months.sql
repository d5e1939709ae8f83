-- 061: a month's purchased lines and delivery addresses refer to that month's transactions,
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

-- Every month already there gets its references (checked against its rows, as any new
-- reference is); a month created from now on gets them from ops.create_partition
-- (definitions/040), through ops.refer_to_month_of_transactions (definitions/035).
DO $$
DECLARE
    month record;
BEGIN
    FOR month IN
        SELECT referring, p.oid::regclass AS partition, t.oid::regclass AS transactions
        FROM unnest(ARRAY['warehouse.transaction_items',
                          'pii.delivery_addresses']::regclass[]) AS referring
        JOIN pg_inherits i ON i.inhparent = referring
        JOIN pg_class p ON p.oid = i.inhrelid
        JOIN pg_class t ON t.relnamespace = p.relnamespace
         AND t.relname = 'warehouse_transactions_' || right(p.relname, 7)
    LOOP
        EXECUTE format('ALTER TABLE %s ADD FOREIGN KEY (transaction_time, transaction_id) '
                       'REFERENCES %s (transaction_time, transaction_id) ON DELETE CASCADE',
                       month.partition, month.transactions);
    END LOOP;
END
$$;
