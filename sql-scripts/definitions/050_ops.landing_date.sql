-- The date of a landing file's folder: date=YYYY-MM-DD/hour=HH/<dataset>.json[.gz]. (020 gave
-- the quarantined lines of warehouses older than it their partition_date with it.)
CREATE OR REPLACE FUNCTION ops.landing_date(source_file text) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
    SELECT make_date(substring(source_file FROM 'date=([0-9]{4})-')::integer,
                     substring(source_file FROM 'date=[0-9]{4}-([0-9]{2})-')::integer,
                     substring(source_file FROM 'date=[0-9]{4}-[0-9]{2}-([0-9]{2})')::integer)
$$;
