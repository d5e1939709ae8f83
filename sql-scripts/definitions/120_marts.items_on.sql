-- The items of some days, found by their time (as marts.transactions_on finds transactions).
CREATE OR REPLACE FUNCTION marts.items_on(days date[]) RETURNS SETOF warehouse.transaction_items
LANGUAGE sql STABLE AS $$
    SELECT i.* FROM unnest(days) AS d(day)
    JOIN warehouse.transaction_items i
      ON i.transaction_time >= d.day AND i.transaction_time < d.day + 1
$$;
REVOKE EXECUTE ON FUNCTION marts.items_on(date[]) FROM PUBLIC;
