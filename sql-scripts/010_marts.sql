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
--
-- This script holds the marts' tables. The triggers, the refresh functions and the views are
-- definitions of their own, applied again whenever they change: sql-scripts/definitions/*marts.*.

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

-------------------------------------------------------------------------------- grants
-- The analyst reads every mart. The roles that load refresh them, through functions that run as
-- their owner (definitions/*marts.refresh*).
GRANT USAGE ON SCHEMA marts TO warehouse_analyst, warehouse_loader, warehouse_privacy_officer;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO warehouse_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO warehouse_analyst;
-- Key rotation (etl/key_rotation.py) re-keys customer_orders with every other pseudonym.
GRANT SELECT, UPDATE (customer_key) ON marts.customer_orders TO warehouse_loader;
