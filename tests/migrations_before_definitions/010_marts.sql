-- 010: analytics marts (schema marts), kept up to date day by day.
--
-- Marts answer the questions analysts and other services ask, from the warehouse tables, with no
-- direct identifier: a customer appears only as customer_key, the pseudonym the warehouse uses.
--
--   daily_sales, hourly_sales   orders, purchased lines, units, revenue, customers per day / hour
--   product_daily_sales         per day and product: orders, units, revenue
--   product_price_changes       every change of a product's catalogue price from one day to the next
--   area_daily_sales            per day and delivery area (country, city, postcode district)
--   customer_orders             per customer pseudonym: first and last order, orders, revenue
--   data_quality                per dataset and partition day: files and records as loaded
--   customers_by_area (view)    current customers per home area
--   customer_segments (view)    per pseudonym: segment, orders, whether a repeat customer
--   segment_repeat_rates (view) per segment: customers, repeat customers, repeat rate, revenue
--
-- Refresh. Triggers on the tables the marts read note the days a statement changed (a
-- transaction's day, a catalogue's day, a load's partition day) in marts.pending_days.
-- marts.refresh_pending(), called at the end of every run, recomputes exactly those days;
-- marts.refresh(from, to) and marts.refresh_all() recompute a range or everything. A day's rows
-- are deleted and inserted again in the caller's transaction: readers see the old rows until it
-- commits (MVCC), so a refresh never blocks them, and loads never wait for a refresh either.
-- Customer and price-change rows are recomputed for the customers and products those days touch.
-- The views read small current-state tables directly and need no refresh.

CREATE SCHEMA IF NOT EXISTS marts;

--------------------------------------------------------------------------------- sales
CREATE TABLE marts.daily_sales (
    sales_date          date PRIMARY KEY,
    orders              integer NOT NULL,
    -- purchased lines (transaction items)
    items               integer NOT NULL,
    units               bigint NOT NULL,
    revenue             numeric(14, 2) NOT NULL,
    -- distinct customer pseudonyms that ordered that day
    customers           integer NOT NULL,
    average_order_value numeric(12, 2) GENERATED ALWAYS AS (round(revenue / orders, 2)) STORED
);

CREATE TABLE marts.hourly_sales (
    sales_date          date NOT NULL,
    sales_hour          smallint NOT NULL CHECK (sales_hour BETWEEN 0 AND 23),
    orders              integer NOT NULL,
    items               integer NOT NULL,
    units               bigint NOT NULL,
    revenue             numeric(14, 2) NOT NULL,
    customers           integer NOT NULL,
    average_order_value numeric(12, 2) GENERATED ALWAYS AS (round(revenue / orders, 2)) STORED,
    PRIMARY KEY (sales_date, sales_hour)
);

------------------------------------------------------------------------------ products
-- Keyed by sku only: name and category come from warehouse.products when read, so a product
-- renamed or recategorised by a later catalogue reports under its current name and category.
CREATE TABLE marts.product_daily_sales (
    sales_date date NOT NULL,
    sku        integer NOT NULL,
    -- transactions that bought the product
    orders     integer NOT NULL,
    units      bigint NOT NULL,
    revenue    numeric(14, 2) NOT NULL,
    PRIMARY KEY (sales_date, sku)
);
CREATE INDEX product_daily_sales_sku ON marts.product_daily_sales (sku);

CREATE TABLE marts.product_price_changes (
    sku                     integer NOT NULL,
    catalogue_date          date NOT NULL,
    previous_catalogue_date date NOT NULL,
    previous_price          numeric(12, 2) NOT NULL,
    price                   numeric(12, 2) NOT NULL,
    change                  numeric(12, 2) GENERATED ALWAYS AS (price - previous_price) STORED,
    PRIMARY KEY (sku, catalogue_date)
);
CREATE INDEX product_price_changes_date ON marts.product_price_changes (catalogue_date);
-- finds the products a catalogue day holds when that day is refreshed
CREATE INDEX product_catalogue_date ON warehouse.product_catalogue (catalogue_date);

--------------------------------------------------------------------------------- areas
-- Delivery areas: a postcode district (outward code, Eircode routing key) is an area of
-- thousands of addresses, never an address.
CREATE TABLE marts.area_daily_sales (
    sales_date        date NOT NULL,
    country           text NOT NULL,
    city              text NOT NULL,
    postcode_district text,
    orders            integer NOT NULL,
    revenue           numeric(14, 2) NOT NULL
);
CREATE INDEX area_daily_sales_date ON marts.area_daily_sales (sales_date);

CREATE VIEW marts.customers_by_area AS
SELECT country, city, postcode_district, count(*) AS customers
FROM warehouse.customers
GROUP BY country, city, postcode_district;

----------------------------------------------------------------------------- customers
-- Per pseudonym, from every transaction of the customer. An erasure keeps the transactions under
-- the pseudonym, so an erased customer's row stays as it was: nothing in it names anyone.
CREATE TABLE marts.customer_orders (
    customer_key      warehouse.pseudonym PRIMARY KEY,
    first_order_date  date NOT NULL,
    last_order_date   date NOT NULL,
    orders            integer NOT NULL,
    revenue           numeric(14, 2) NOT NULL
);

-- Everyone known as a customer or seen ordering. customer_known is false for a pseudonym with
-- orders but no customer record: erased, or not delivered by the feed (an orphan).
CREATE VIEW marts.customer_segments AS
SELECT coalesce(c.customer_key, o.customer_key) AS customer_key,
       c.segment,
       c.customer_key IS NOT NULL AS customer_known,
       o.first_order_date,
       o.last_order_date,
       coalesce(o.orders, 0) AS orders,
       coalesce(o.revenue, 0) AS revenue,
       coalesce(o.orders, 0) > 1 AS repeat_customer
FROM warehouse.customers c
FULL JOIN marts.customer_orders o ON o.customer_key = c.customer_key;

CREATE VIEW marts.segment_repeat_rates AS
SELECT segment,
       customer_known,
       count(*) AS customers,
       count(*) FILTER (WHERE orders > 0) AS ordering_customers,
       count(*) FILTER (WHERE repeat_customer) AS repeat_customers,
       -- share of the customers who ordered that ordered more than once
       round(count(*) FILTER (WHERE repeat_customer)::numeric
             / nullif(count(*) FILTER (WHERE orders > 0), 0), 4) AS repeat_rate,
       sum(orders) AS orders,
       sum(revenue) AS revenue
FROM marts.customer_segments
GROUP BY segment, customer_known;

-------------------------------------------------------------------------- data quality
-- Per dataset and partition day, from the loads now in effect (each file's last 'loaded' or
-- 'rejected' load, as in `warehouse status`); files_failed counts files whose last load failed.
CREATE TABLE marts.data_quality (
    dataset             text NOT NULL,
    partition_date      date NOT NULL,
    files               integer NOT NULL,
    files_rejected      integer NOT NULL,
    files_failed        integer NOT NULL,
    records_read        integer NOT NULL,
    records_loaded      integer NOT NULL,
    records_duplicate   integer NOT NULL,
    records_quarantined integer NOT NULL,
    records_erased      integer NOT NULL,
    -- transactions whose customer or a product was unknown when they loaded
    orphans             integer NOT NULL,
    PRIMARY KEY (dataset, partition_date)
);

------------------------------------------------------------------------------ refresh
-- Days changed since the last refresh. Append-only, no key: concurrent loads never wait on each
-- other here; a refresh takes the rows it sees and leaves rows of uncommitted loads for the next.
CREATE TABLE marts.pending_days (
    day date NOT NULL
);

-- Trigger: note the days of the rows a statement changed; TG_ARGV[0] is the date column.
-- SECURITY DEFINER: the loader and the privacy officer change the tables, not the marts.
CREATE FUNCTION marts.note_pending_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO marts.pending_days (day) SELECT DISTINCT %I::date FROM new_rows',
                       TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('INSERT INTO marts.pending_days (day) SELECT DISTINCT %I::date FROM old_rows',
                       TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

-- Items change only with their transaction (inserted with it, deleted by cascade), so the
-- transaction's triggers cover them.
CREATE TRIGGER transactions_inserted AFTER INSERT ON warehouse.transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('transaction_time');
CREATE TRIGGER transactions_updated AFTER UPDATE ON warehouse.transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('transaction_time');
CREATE TRIGGER transactions_deleted AFTER DELETE ON warehouse.transactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('transaction_time');

CREATE TRIGGER catalogue_inserted AFTER INSERT ON warehouse.product_catalogue
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('catalogue_date');
CREATE TRIGGER catalogue_updated AFTER UPDATE ON warehouse.product_catalogue
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('catalogue_date');
CREATE TRIGGER catalogue_deleted AFTER DELETE ON warehouse.product_catalogue
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('catalogue_date');

-- The load log is append-only (an erasure only rewrites error texts, which no mart reads).
CREATE TRIGGER load_log_inserted AFTER INSERT ON ops.load_log
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days('partition_date');

-- The transactions of the given days (an index range scan per day). No SET clause, so that the
-- planner inlines it into the queries that use it; its tables are schema-qualified.
CREATE FUNCTION marts.transactions_on(days date[]) RETURNS SETOF warehouse.transactions
LANGUAGE sql STABLE AS $$
    SELECT t.* FROM unnest(days) AS d(day)
    JOIN warehouse.transactions t ON t.transaction_time >= d.day AND t.transaction_time < d.day + 1
$$;

-- Recompute every mart for the given days; return how many days that was.
CREATE FUNCTION marts.refresh_days(days date[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    customer_keys text[];
    skus integer[];
BEGIN
    days := ARRAY(SELECT DISTINCT d FROM unnest(days) AS d WHERE d IS NOT NULL ORDER BY d);
    IF cardinality(days) = 0 THEN
        RETURN 0;
    END IF;
    -- Refreshes take turns (two would insert the same keys); loads and readers never wait.
    PERFORM pg_advisory_xact_lock(10, 0);

    DELETE FROM marts.daily_sales WHERE sales_date = ANY (days);
    DELETE FROM marts.hourly_sales WHERE sales_date = ANY (days);
    WITH sold AS (
        SELECT t.transaction_time, t.customer_key, t.total_cost, i.items, i.units
        FROM marts.transactions_on(days) t
        CROSS JOIN LATERAL (
            SELECT count(*) AS items, coalesce(sum(quantity), 0) AS units
            FROM warehouse.transaction_items WHERE transaction_id = t.transaction_id
        ) i
    ), by_hour AS (
        INSERT INTO marts.hourly_sales (sales_date, sales_hour, orders, items, units, revenue,
                                        customers)
        SELECT transaction_time::date, extract(hour FROM transaction_time), count(*), sum(items),
               sum(units), sum(total_cost), count(DISTINCT customer_key)
        FROM sold GROUP BY 1, 2
    )
    INSERT INTO marts.daily_sales (sales_date, orders, items, units, revenue, customers)
    SELECT transaction_time::date, count(*), sum(items), sum(units), sum(total_cost),
           count(DISTINCT customer_key)
    FROM sold GROUP BY 1;

    DELETE FROM marts.product_daily_sales WHERE sales_date = ANY (days);
    INSERT INTO marts.product_daily_sales (sales_date, sku, orders, units, revenue)
    SELECT t.transaction_time::date, i.sku, count(DISTINCT t.transaction_id), sum(i.quantity),
           sum(i.total)
    FROM marts.transactions_on(days) t
    JOIN warehouse.transaction_items i ON i.transaction_id = t.transaction_id
    GROUP BY 1, 2;

    DELETE FROM marts.area_daily_sales WHERE sales_date = ANY (days);
    INSERT INTO marts.area_daily_sales (sales_date, country, city, postcode_district, orders,
                                        revenue)
    SELECT transaction_time::date, delivery_country, delivery_city, delivery_postcode_district,
           count(*), sum(total_cost)
    FROM marts.transactions_on(days)
    GROUP BY 1, 2, 3, 4;

    -- Customers who ordered on those days, and customers whose stored span covers one of them
    -- (their transaction there may be gone): recomputed from all their transactions.
    customer_keys := ARRAY(
        SELECT customer_key FROM marts.transactions_on(days)
        UNION
        SELECT customer_key FROM marts.customer_orders o
        WHERE o.last_order_date >= days[1] AND o.first_order_date <= days[cardinality(days)]
          AND EXISTS (SELECT 1 FROM unnest(days) AS d
                      WHERE d BETWEEN o.first_order_date AND o.last_order_date)
    );
    DELETE FROM marts.customer_orders WHERE customer_key = ANY (customer_keys);
    INSERT INTO marts.customer_orders (customer_key, first_order_date, last_order_date, orders,
                                       revenue)
    SELECT customer_key, min(transaction_time)::date, max(transaction_time)::date, count(*),
           sum(total_cost)
    FROM warehouse.transactions WHERE customer_key = ANY (customer_keys)
    GROUP BY customer_key;

    -- Products in those days' catalogues, and products with a change from or to one of those
    -- days (that day's catalogue may be gone): their price history is compared again.
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

-- Recompute the days from_date..to_date (inclusive).
CREATE FUNCTION marts.refresh(from_date date, to_date date) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT marts.refresh_days(ARRAY(SELECT generate_series(from_date, to_date, '1 day')::date))
$$;

-- Recompute the days changed since the last refresh (what every run does at its end).
CREATE FUNCTION marts.refresh_pending() RETURNS integer
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

-- Recompute every day any source table or mart holds.
CREATE FUNCTION marts.refresh_all() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(10, 0);
    DELETE FROM marts.pending_days;
    RETURN marts.refresh_days(ARRAY(
        SELECT transaction_time::date FROM warehouse.transactions
        UNION SELECT catalogue_date FROM warehouse.product_catalogue
        UNION SELECT partition_date FROM ops.load_log
        UNION SELECT sales_date FROM marts.daily_sales
        UNION SELECT catalogue_date FROM marts.product_price_changes
        UNION SELECT partition_date FROM marts.data_quality
    ));
END
$$;

-------------------------------------------------------------------------------- grants
-- The analyst reads every mart. Refreshing is for the roles that load (an erasure runs as the
-- privacy officer, and every run ends with a refresh); the functions run as their owner.
GRANT USAGE ON SCHEMA marts TO warehouse_analyst, warehouse_loader, warehouse_privacy_officer;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO warehouse_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO warehouse_analyst;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA marts FROM PUBLIC;
GRANT EXECUTE ON FUNCTION marts.refresh_days(date[]), marts.refresh(date, date),
    marts.refresh_pending(), marts.refresh_all()
    TO warehouse_loader, warehouse_privacy_officer;
-- Key rotation (etl/key_rotation.py) re-keys customer_orders with every other pseudonym.
GRANT SELECT, UPDATE (customer_key) ON marts.customer_orders TO warehouse_loader;

-- Fill the marts from whatever the warehouse already holds.
SELECT marts.refresh_all();
