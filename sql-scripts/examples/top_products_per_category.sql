-- Top products per category: the 3 best-selling products of each category by revenue, with
-- their share of the category's revenue.
-- Edit params: the date range (default: the last 28 days of data) and how many per category.
WITH params AS (
    SELECT max(sales_date) - 27 AS first_day, max(sales_date) AS last_day, 3 AS top
    FROM marts.daily_sales
), sold AS (
    SELECT s.sku, p.name, coalesce(p.category, '(in no catalogue)') AS category,
           sum(s.units) AS units, sum(s.revenue) AS revenue
    FROM marts.product_daily_sales s
    CROSS JOIN params
    LEFT JOIN warehouse.products p ON p.sku = s.sku
    WHERE s.sales_date BETWEEN params.first_day AND params.last_day
    GROUP BY s.sku, p.name, p.category
), ranked AS (
    SELECT *, rank() OVER (PARTITION BY category ORDER BY revenue DESC, sku) AS rank_in_category,
           round(100 * revenue / sum(revenue) OVER (PARTITION BY category), 1)
               AS share_of_category_pct
    FROM sold
)
SELECT category, rank_in_category, sku, name, units, revenue, share_of_category_pct
FROM ranked, params
WHERE rank_in_category <= params.top
ORDER BY category, rank_in_category;
