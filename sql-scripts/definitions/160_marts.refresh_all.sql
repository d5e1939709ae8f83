-- Recompute every day any source table or mart holds.
CREATE OR REPLACE FUNCTION marts.refresh_all() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(10, 0);
    DELETE FROM marts.pending_days;
    RETURN marts.refresh_days(ARRAY(
        SELECT transaction_time::date FROM warehouse.transactions
        UNION SELECT catalogue_date FROM warehouse.product_catalogue
        UNION SELECT partition_date FROM ops.load_log
        UNION SELECT sales_date FROM marts.daily_sales
        UNION SELECT sales_date FROM marts.customer_days
        UNION SELECT catalogue_date FROM marts.product_price_changes
        UNION SELECT partition_date FROM marts.data_quality
    ));
END
$$;
REVOKE EXECUTE ON FUNCTION marts.refresh_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION marts.refresh_all()
    TO warehouse_loader, warehouse_privacy_officer;
