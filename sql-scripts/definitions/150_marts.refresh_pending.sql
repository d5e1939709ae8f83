-- Recompute the days changed since the last refresh (what every run does at its end).
CREATE OR REPLACE FUNCTION marts.refresh_pending() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    days date[];
BEGIN
    -- taken after the lock, so that a refresh waiting for another sees what that one left
    PERFORM pg_advisory_xact_lock(10, 0);
    WITH taken AS (DELETE FROM marts.pending_days RETURNING day)
    SELECT array_agg(DISTINCT day) INTO days FROM taken;
    RETURN marts.refresh_days(coalesce(days, '{}'));
END
$$;
REVOKE EXECUTE ON FUNCTION marts.refresh_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION marts.refresh_pending()
    TO warehouse_loader, warehouse_privacy_officer;
