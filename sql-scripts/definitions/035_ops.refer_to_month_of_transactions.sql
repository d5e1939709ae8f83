-- The reference of a month's partition of a referring table (purchased lines, delivery
-- addresses) to the same month's partition of warehouse.transactions, unless it has one; the
-- partition of transactions must exist (ops.create_partition creates it first). Why partition
-- to partition: sql-scripts/061_references_within_months.sql.
CREATE OR REPLACE FUNCTION ops.refer_to_month_of_transactions(referring regclass, month date)
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

-- Called by ops.create_partition only, which runs as the owner.
REVOKE EXECUTE ON FUNCTION ops.refer_to_month_of_transactions(regclass, date) FROM PUBLIC;
