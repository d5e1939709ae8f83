-- Recompute every mart for the given days; return how many days that was. A day's rows are
-- deleted and inserted again in the caller's transaction: readers see the old rows until it
-- commits, so a refresh never blocks them. Items are read by their own time, customers through
-- marts.customer_days (030): each level reads a bounded number of rows, however much the month
-- or the history holds. Refreshes take turns on an advisory lock (two would insert the same
-- keys); loads and readers never wait. Refreshing is for the roles that load (an erasure runs
-- as the privacy officer, and every run ends with a refresh); it runs as the owner.
CREATE OR REPLACE FUNCTION marts.refresh_days(days date[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    customer_keys text[];
    skus integer[];
    month_start date;
BEGIN
    days := ARRAY(SELECT DISTINCT d FROM unnest(days) AS d WHERE d IS NOT NULL ORDER BY d);
    IF cardinality(days) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(10, 0);

    DELETE FROM marts.daily_sales WHERE sales_date = ANY (days);
    DELETE FROM marts.hourly_sales WHERE sales_date = ANY (days);
    -- Items are read by their own time (each line carries its transaction's), never looked up
    -- transaction by transaction in the month's key: a day's refresh reads that day's rows.
    WITH lines AS (
        SELECT transaction_time::date AS sales_date,
               extract(hour FROM transaction_time) AS sales_hour,
               count(*) AS items, sum(quantity) AS units
        FROM marts.items_on(days) GROUP BY 1, 2
    ), by_hour AS (
        INSERT INTO marts.hourly_sales (sales_date, sales_hour, orders, items, units, revenue,
                                        customers)
        SELECT o.sales_date, o.sales_hour, o.orders, coalesce(l.items, 0), coalesce(l.units, 0),
               o.revenue, o.customers
        FROM (
            SELECT transaction_time::date AS sales_date,
                   extract(hour FROM transaction_time) AS sales_hour, count(*) AS orders,
                   sum(total_cost) AS revenue, count(DISTINCT customer_key) AS customers
            FROM marts.transactions_on(days) GROUP BY 1, 2
        ) o
        LEFT JOIN lines l USING (sales_date, sales_hour)
    )
    INSERT INTO marts.daily_sales (sales_date, orders, items, units, revenue, customers)
    SELECT o.sales_date, o.orders, coalesce(l.items, 0), coalesce(l.units, 0), o.revenue,
           o.customers
    FROM (
        SELECT transaction_time::date AS sales_date, count(*) AS orders,
               sum(total_cost) AS revenue, count(DISTINCT customer_key) AS customers
        FROM marts.transactions_on(days) GROUP BY 1
    ) o
    LEFT JOIN (
        SELECT sales_date, sum(items) AS items, sum(units) AS units FROM lines GROUP BY 1
    ) l USING (sales_date);

    DELETE FROM marts.product_daily_sales WHERE sales_date = ANY (days);
    INSERT INTO marts.product_daily_sales (sales_date, sku, orders, units, revenue)
    SELECT transaction_time::date, sku, count(DISTINCT transaction_id), sum(quantity), sum(total)
    FROM marts.items_on(days)
    GROUP BY 1, 2;

    DELETE FROM marts.area_daily_sales WHERE sales_date = ANY (days);
    INSERT INTO marts.area_daily_sales (sales_date, country, city, postcode_district, orders,
                                        revenue)
    SELECT transaction_time::date, delivery_country, delivery_city, delivery_postcode_district,
           count(*), sum(total_cost)
    FROM marts.transactions_on(days)
    GROUP BY 1, 2, 3, 4;

    -- Customers who ordered on those days, before or after this refresh: their rows of those
    -- days are recomputed from those days' transactions, their months from their days, their
    -- lifetime from their months. Each level reads a bounded number of rows (a day's
    -- transactions, 31 days, one row a month), however much the month or history holds.
    customer_keys := ARRAY(
        SELECT customer_key FROM marts.transactions_on(days)
        UNION
        SELECT customer_key FROM marts.customer_days WHERE sales_date = ANY (days)
    );
    DELETE FROM marts.customer_days WHERE sales_date = ANY (days);
    INSERT INTO marts.customer_days (customer_key, sales_date, orders, revenue)
    SELECT customer_key, transaction_time::date, count(*), sum(total_cost)
    FROM marts.transactions_on(days)
    GROUP BY 1, 2;
    FOREACH month_start IN ARRAY ARRAY(SELECT DISTINCT date_trunc('month', d)::date
                                       FROM unnest(days) AS d) LOOP
        DELETE FROM marts.customer_months
        WHERE customer_key = ANY (customer_keys) AND month = month_start;
        INSERT INTO marts.customer_months (customer_key, month, first_order_date,
                                           last_order_date, orders, revenue)
        SELECT customer_key, month_start, min(sales_date), max(sales_date), sum(orders),
               sum(revenue)
        FROM marts.customer_days
        WHERE customer_key = ANY (customer_keys)
          AND sales_date >= month_start AND sales_date < month_start + interval '1 month'
        GROUP BY customer_key;
    END LOOP;
    DELETE FROM marts.customer_orders WHERE customer_key = ANY (customer_keys);
    INSERT INTO marts.customer_orders (customer_key, first_order_date, last_order_date, orders,
                                       revenue)
    SELECT customer_key, min(first_order_date), max(last_order_date), sum(orders), sum(revenue)
    FROM marts.customer_months WHERE customer_key = ANY (customer_keys)
    GROUP BY customer_key;

    skus := ARRAY(
        SELECT sku FROM warehouse.product_catalogue WHERE catalogue_date = ANY (days)
        UNION
        SELECT sku FROM marts.product_price_changes
        WHERE catalogue_date = ANY (days) OR previous_catalogue_date = ANY (days)
    );
    DELETE FROM marts.product_price_changes WHERE sku = ANY (skus);
    INSERT INTO marts.product_price_changes (sku, catalogue_date, previous_catalogue_date,
                                             previous_price, price)
    SELECT sku, catalogue_date, previous_catalogue_date, previous_price, price
    FROM (
        SELECT sku, catalogue_date, price,
               lag(catalogue_date) OVER history AS previous_catalogue_date,
               lag(price) OVER history AS previous_price
        FROM warehouse.product_catalogue WHERE sku = ANY (skus)
        WINDOW history AS (PARTITION BY sku ORDER BY catalogue_date)
    ) priced
    WHERE price <> previous_price;

    DELETE FROM marts.data_quality WHERE partition_date = ANY (days);
    INSERT INTO marts.data_quality (
        dataset, partition_date, files, files_rejected, files_failed, records_read,
        records_loaded, records_duplicate, records_quarantined, records_erased, orphans
    )
    WITH logged AS (
        SELECT * FROM ops.load_log WHERE partition_date = ANY (days)
    ), in_effect AS (
        SELECT DISTINCT ON (source_file) * FROM logged
        WHERE status IN ('loaded', 'rejected')
        ORDER BY source_file, load_id DESC
    ), last_attempt AS (
        SELECT DISTINCT ON (source_file) dataset, partition_date, source_file, status FROM logged
        ORDER BY source_file, load_id DESC
    )
    SELECT a.dataset, a.partition_date, count(*),
           count(*) FILTER (WHERE e.status = 'rejected'),
           count(*) FILTER (WHERE a.status = 'failed'),
           coalesce(sum(e.records_read), 0), coalesce(sum(e.records_loaded), 0),
           coalesce(sum(e.records_duplicate), 0), coalesce(sum(e.records_quarantined), 0),
           coalesce(sum(e.records_erased), 0), coalesce(sum(e.orphans), 0)
    FROM last_attempt a LEFT JOIN in_effect e ON e.source_file = a.source_file
    GROUP BY a.dataset, a.partition_date;

    RETURN cardinality(days);
END
$$;
REVOKE EXECUTE ON FUNCTION marts.refresh_days(date[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION marts.refresh_days(date[])
    TO warehouse_loader, warehouse_privacy_officer;
