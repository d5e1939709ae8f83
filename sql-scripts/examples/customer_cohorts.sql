-- Customer cohorts: customers grouped by the week of their first order, how many came back
-- for a second order, and how much a customer of each cohort has spent so far.
SELECT date_trunc('week', first_order_date)::date AS first_order_week,
       count(*) AS customers,
       count(*) FILTER (WHERE orders > 1) AS repeat_customers,
       round(100.0 * count(*) FILTER (WHERE orders > 1) / count(*), 1) AS repeat_rate_pct,
       round(avg(orders), 1) AS orders_per_customer,
       round(avg(revenue), 2) AS revenue_per_customer,
       round(avg(last_order_date - first_order_date), 1) AS days_first_to_last_order
FROM marts.customer_orders
GROUP BY 1
ORDER BY 1;
