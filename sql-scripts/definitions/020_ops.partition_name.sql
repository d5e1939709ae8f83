-- partitions.<schema>_<table>_YYYY_MM, the partition of `parent` holding `month`.
CREATE OR REPLACE FUNCTION ops.partition_name(parent regclass, month date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT n.nspname || '_' || c.relname || '_' || to_char(month, 'YYYY_MM')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent
$$;
