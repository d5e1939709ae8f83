-- 040: the month partitions of transactions and their items are keyed by time first, so that a
-- load writes their keys where the month's latest rows are rather than all over the month.
--
-- Their primary keys began with the transaction id, a random uuid: every inserted row (and every
-- item's foreign-key check) went to a random page of the month's index, and the more of the
-- month was stored, the more pages a day's load touched and the slower it went (the tenth day
-- of 100,000 transactions into one month loaded at 0.63-0.70 of the first day's rate). Keyed
-- (transaction_time, transaction_id), a file's rows go to one narrow range of the index: its
-- hour's. Uniqueness is unchanged: warehouse.transaction_ids keeps each id once, with one time.
--
-- Every query that finds a transaction by id gives its time as well (a key of a partitioned
-- table must include its partition column), so the new keys serve them; they also serve the
-- scans by time, so the separate time indexes go.

ALTER TABLE warehouse.transaction_items
    DROP CONSTRAINT transaction_items_transaction_id_transaction_time_fkey,
    DROP CONSTRAINT transaction_items_pkey;
ALTER TABLE warehouse.transactions DROP CONSTRAINT transactions_pkey;

ALTER TABLE warehouse.transactions ADD PRIMARY KEY (transaction_time, transaction_id);
DROP INDEX warehouse.transactions_time;

ALTER TABLE warehouse.transaction_items
    ADD PRIMARY KEY (transaction_time, transaction_id, line_number),
    ADD FOREIGN KEY (transaction_time, transaction_id)
        REFERENCES warehouse.transactions (transaction_time, transaction_id) ON DELETE CASCADE;
DROP INDEX warehouse.transaction_items_time;
