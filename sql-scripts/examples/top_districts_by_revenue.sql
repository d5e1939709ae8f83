-- Top delivery postcode districts by revenue, with their share of the country's revenue, and
-- how many current customers live in each.
-- Edit params: the date range (default: the last 28 days of data) and how many districts.
WITH params AS (
    SELECT max(sales_date) - 27 AS first_day, max(sales_date) AS last_day, 10 AS top
    FROM marts.daily_sales
), districts AS (
    SELECT a.country, a.postcode_district, sum(a.orders) AS orders, sum(a.revenue) AS revenue
    FROM marts.area_daily_sales a, params p
    WHERE a.sales_date BETWEEN p.first_day AND p.last_day
    GROUP BY a.country, a.postcode_district
), residents AS (
    SELECT country, postcode_district, sum(customers) AS customers
    FROM marts.customers_by_area GROUP BY country, postcode_district
)
SELECT d.country, d.postcode_district, d.orders, d.revenue,
       round(100 * d.revenue / sum(d.revenue) OVER (PARTITION BY d.country), 2)
           AS share_of_country_pct,
       coalesce(r.customers, 0) AS customers_living_there
FROM districts d
LEFT JOIN residents r
       ON r.country = d.country AND r.postcode_district IS NOT DISTINCT FROM d.postcode_district
ORDER BY d.revenue DESC, d.country, d.postcode_district
LIMIT (SELECT top FROM params);
