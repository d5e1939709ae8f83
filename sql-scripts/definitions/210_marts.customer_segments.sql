-- marts.customer_segments and marts.segment_repeat_rates, which reads it: dropped (the one that
-- depends on the other first) and created again together whenever they change, so that their
-- columns may change.
DROP VIEW IF EXISTS marts.segment_repeat_rates, marts.customer_segments;

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

-- Per segment: customers, ordering and repeat customers, repeat rate, orders, revenue.
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

GRANT SELECT ON marts.customer_segments, marts.segment_repeat_rates TO warehouse_analyst;
