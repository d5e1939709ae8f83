-- Recompute the days from_date..to_date (inclusive).
CREATE OR REPLACE FUNCTION marts.refresh(from_date date, to_date date) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT marts.refresh_days(ARRAY(SELECT generate_series(from_date, to_date, '1 day')::date))
$$;
REVOKE EXECUTE ON FUNCTION marts.refresh(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION marts.refresh(date, date)
    TO warehouse_loader, warehouse_privacy_officer;
