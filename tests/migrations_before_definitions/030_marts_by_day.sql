-- 030: a day's marts refresh reads that day's rows only, so that it costs the same on the first
-- day of a month and on the last.
--
-- Until now a day's refresh recomputed its customers' rows of marts.customer_months from their
-- transactions of the whole month, and found the day's items one transaction at a time in the
-- month's primary key: the more of the month was loaded, the longer every run's refresh took
-- (a month of 1,000,000 transactions: 1.1 s on its first day, 1.6 s on its tenth). Now:
-- - a day's transactions make its rows of the new marts.customer_days; a customer's month is
--   summed from at most 31 of those rows, and their lifetime (customer_orders) from their months;
-- - items are read by their own time, through a new index on transaction_items.

-- Per pseudonym and day on which they ordered.
CREATE TABLE marts.customer_days (
    customer_key warehouse.pseudonym NOT NULL,
    sales_date   date NOT NULL,
    orders       integer NOT NULL,
    revenue      numeric(14, 2) NOT NULL,
    PRIMARY KEY (customer_key, sales_date)
);
CREATE INDEX customer_days_date ON marts.customer_days (sales_date);
INSERT INTO marts.customer_days
SELECT customer_key, transaction_time::date, count(*), sum(total_cost)
FROM warehouse.transactions GROUP BY 1, 2;

-- The items of some days, found by their time (as marts.transactions_on finds transactions).
CREATE INDEX transaction_items_time ON warehouse.transaction_items (transaction_time);
CREATE FUNCTION marts.items_on(days date[]) RETURNS SETOF warehouse.transaction_items
LANGUAGE sql STABLE AS $$
    SELECT i.* FROM unnest(days) AS d(day)
    JOIN warehouse.transaction_items i
      ON i.transaction_time >= d.day AND i.transaction_time < d.day + 1
$$;
REVOKE EXECUTE ON FUNCTION marts.items_on(date[]) FROM PUBLIC;

-- As in 020, but items by their time and customers through marts.customer_days.
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

-- As in 010, and the days of customer_days too.
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

-- As customer_months (020): the analyst reads it; key rotation (etl/key_rotation.py), run by
-- the loader, re-keys it with every other pseudonym.
GRANT SELECT ON marts.customer_days TO warehouse_analyst;
GRANT SELECT, UPDATE (customer_key) ON marts.customer_days TO warehouse_loader;
