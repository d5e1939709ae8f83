-- The transactions of the given days (an index range scan per day; the planner prunes to the
-- days' months). No SET clause, so that the planner inlines it into the queries that use it;
-- its tables are schema-qualified.
CREATE OR REPLACE FUNCTION marts.transactions_on(days date[]) RETURNS SETOF warehouse.transactions
LANGUAGE sql STABLE AS $$
    SELECT t.* FROM unnest(days) AS d(day)
    JOIN warehouse.transactions t ON t.transaction_time >= d.day AND t.transaction_time < d.day + 1
$$;
REVOKE EXECUTE ON FUNCTION marts.transactions_on(date[]) FROM PUBLIC;
