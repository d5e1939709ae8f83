-- Daily revenue trend: revenue per day with its 7-day moving average and the change from the
-- same weekday a week earlier.
-- Edit params: the last day and how many days back (default: the last 28 days of data).
WITH params AS (
    SELECT max(sales_date) AS last_day, 28 AS days FROM marts.daily_sales
), daily AS (
    SELECT d.sales_date, d.orders, d.revenue, d.average_order_value,
           round(avg(d.revenue) OVER (ORDER BY d.sales_date
                                      ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2)
               AS revenue_7_day_average,
           lag(d.revenue, 7) OVER (ORDER BY d.sales_date) AS revenue_week_before
    FROM marts.daily_sales d, params p
    -- 7 extra days so that the first rows shown have a full window
    WHERE d.sales_date > p.last_day - p.days - 7 AND d.sales_date <= p.last_day
)
SELECT sales_date, to_char(sales_date, 'Dy') AS weekday, orders, revenue, average_order_value,
       revenue_7_day_average,
       round(100 * (revenue - revenue_week_before) / nullif(revenue_week_before, 0), 1)
           AS change_from_week_before_pct
FROM daily, params
WHERE sales_date > params.last_day - params.days
ORDER BY sales_date;
