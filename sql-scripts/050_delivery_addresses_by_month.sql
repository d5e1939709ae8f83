-- 050: delivery addresses partitioned by month and keyed by time, like the items (040).
--
-- Keyed by the transaction id alone (a random uuid), every address went to a random page of an
-- index holding all of them, and its reference to warehouse.transaction_ids looked up another:
-- the tenth day of 100,000 transactions into one month stored its addresses in twice the server
-- time of the first. Now an address carries its transaction's time, lives in its month's
-- partition, is keyed (transaction_time, transaction_id) and refers to its transaction, which
-- takes it along when deleted (a changed file's earlier version, a duplicate stored from an
-- earlier place), as it takes its items.
--
-- Partitions live in the schema `partitions` (020) and get no privileges: readers go through
-- pii.delivery_addresses, which keeps its grants. A month detached by `warehouse partitions
-- detach` takes its addresses along and drops them, as it drops its quarantine: personal data
-- is not archived.
--
-- When this script first ran, it moved the addresses of the warehouses that held some into the
-- new table (dropping those whose transaction's month was detached: nothing was left for them to
-- refer to). It now runs on new databases only (rebaselined.txt); ops.partitioned_tables, which
-- it extended to pii.delivery_addresses, is definitions/*ops.partitioned_tables.sql.

ALTER TABLE pii.delivery_addresses RENAME TO delivery_addresses_before_050;
ALTER TABLE pii.delivery_addresses_before_050
    RENAME CONSTRAINT delivery_addresses_pkey TO delivery_addresses_before_050_pkey;
ALTER INDEX pii.delivery_addresses_customer RENAME TO delivery_addresses_before_050_customer;

CREATE TABLE pii.delivery_addresses (
    transaction_id   uuid NOT NULL,
    transaction_time timestamp NOT NULL,
    customer_id      text NOT NULL,
    address          text NOT NULL,
    postcode         text NOT NULL,
    city             text NOT NULL,
    country          text NOT NULL
) PARTITION BY RANGE (transaction_time);

DROP TABLE pii.delivery_addresses_before_050;

ALTER TABLE pii.delivery_addresses
    ADD PRIMARY KEY (transaction_time, transaction_id),
    ADD FOREIGN KEY (transaction_time, transaction_id)
        REFERENCES warehouse.transactions (transaction_time, transaction_id) ON DELETE CASCADE;
CREATE INDEX delivery_addresses_customer ON pii.delivery_addresses (customer_id);

-- As 002 granted on the table replaced.
GRANT ALL ON pii.delivery_addresses TO warehouse_loader;
GRANT SELECT, DELETE ON pii.delivery_addresses TO warehouse_privacy_officer;
