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
-- The refresh itself is definitions/*marts.refresh_days.sql. When this script first ran, it
-- filled customer_days from the transactions of the warehouses that held some; it now runs on
-- new databases only (rebaselined.txt).

-- Per pseudonym and day on which they ordered.
CREATE TABLE marts.customer_days (
    customer_key warehouse.pseudonym NOT NULL,
    sales_date   date NOT NULL,
    orders       integer NOT NULL,
    revenue      numeric(14, 2) NOT NULL,
    PRIMARY KEY (customer_key, sales_date)
);
CREATE INDEX customer_days_date ON marts.customer_days (sales_date);

-- The items of some days, found by their time (marts.items_on).
CREATE INDEX transaction_items_time ON warehouse.transaction_items (transaction_time);

-- As customer_months (020): the analyst reads it; key rotation (etl/key_rotation.py), run by
-- the loader, re-keys it with every other pseudonym.
GRANT SELECT ON marts.customer_days TO warehouse_analyst;
GRANT SELECT, UPDATE (customer_key) ON marts.customer_days TO warehouse_loader;
