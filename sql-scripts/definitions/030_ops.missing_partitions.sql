-- The (table, month) pairs among `months` that have no partition yet: the loader's cheap check
-- (catalog look-ups, no lock).
CREATE OR REPLACE FUNCTION ops.missing_partitions(months date[])
RETURNS TABLE (parent regclass, month date)
LANGUAGE sql STABLE AS $$
    SELECT p.parent, m.month
    FROM unnest(ops.partitioned_tables()) AS p(parent)
    CROSS JOIN (SELECT DISTINCT date_trunc('month', d)::date FROM unnest(months) AS d) AS m(month)
    WHERE to_regclass('partitions.' || ops.partition_name(p.parent, m.month)) IS NULL
    ORDER BY 1, 2
$$;
