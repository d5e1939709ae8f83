-- Busiest hours of the day: average orders and revenue per hour of the day, and how each hour
-- compares with the average hour.
-- Edit params: the date range (default: the last 28 days of data).
WITH params AS (
    SELECT max(sales_date) - 27 AS first_day, max(sales_date) AS last_day FROM marts.daily_sales
), hours AS (
    SELECT h.sales_hour, count(*) AS days_with_orders,
           -- hours without an order have no row: divide by the number of days in the range
           sum(h.orders)::numeric / (p.last_day - p.first_day + 1) AS orders_per_day,
           sum(h.revenue) / (p.last_day - p.first_day + 1) AS revenue_per_day
    FROM marts.hourly_sales h, params p
    WHERE h.sales_date BETWEEN p.first_day AND p.last_day
    GROUP BY h.sales_hour, p.first_day, p.last_day
)
SELECT sales_hour, days_with_orders, round(orders_per_day, 1) AS orders_per_day,
       round(revenue_per_day, 2) AS revenue_per_day,
       round(100 * revenue_per_day / avg(revenue_per_day) OVER (), 0) AS index_vs_average_hour
FROM hours
ORDER BY sales_hour;
