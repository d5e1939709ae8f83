-- Repeat purchase rate by customer segment: of the customers who ordered, how many ordered
-- more than once, and what an average customer of the segment spends.
-- "unknown customer" rows are pseudonyms with orders but no customer record: erased customers
-- (their orders stay under the pseudonym) and customers the feed never delivered.
SELECT CASE WHEN NOT customer_known THEN '(unknown customer)'
            ELSE coalesce(segment, '(no segment)') END AS segment,
       customers, ordering_customers, repeat_customers,
       round(100 * repeat_rate, 1) AS repeat_rate_pct,
       orders,
       round(orders::numeric / nullif(ordering_customers, 0), 1) AS orders_per_customer,
       round(revenue / nullif(ordering_customers, 0), 2) AS revenue_per_customer
FROM marts.segment_repeat_rates
ORDER BY customer_known DESC, revenue DESC;
