-- Current customers per home area. Dropped and created again whenever it changes, so that its
-- columns may change.
DROP VIEW IF EXISTS marts.customers_by_area;
CREATE VIEW marts.customers_by_area AS
SELECT country, city, postcode_district, count(*) AS customers
FROM warehouse.customers
GROUP BY country, city, postcode_district;

GRANT SELECT ON marts.customers_by_area TO warehouse_analyst;
