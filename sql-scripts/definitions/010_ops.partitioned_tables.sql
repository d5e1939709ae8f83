-- ops.partitioned_tables: the tables partitioned by month (020, 050), whose months the loader
-- creates before it writes to them (etl/warehouse/monthly_partitions.py).
CREATE OR REPLACE FUNCTION ops.partitioned_tables() RETURNS regclass[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY['warehouse.transactions', 'warehouse.transaction_items',
                 'pii.delivery_addresses', 'ops.quarantine', 'ops.load_log']::regclass[]
$$;
