-- 080: descriptions of the analytics tables and their columns, and of the erasure log, read
-- back from the catalog by whatever describes the warehouse (the Dagster asset pages show them
-- as the asset's columns; psql's \d+ shows them too). A comment belongs to the table's
-- definition, so it lives here, beside the DDL; on a partitioned table it describes the parent,
-- which is what is queried.

---------------------------------------------------------------------------------- products
COMMENT ON TABLE warehouse.product_catalogue IS
    'Every product as each day''s catalogue gave it: one row per product and catalogue date.';
COMMENT ON COLUMN warehouse.product_catalogue.sku IS 'Stock-keeping unit: the product''s id.';
COMMENT ON COLUMN warehouse.product_catalogue.catalogue_date IS
    'The date of the catalogue (its landing folder''s date).';
COMMENT ON COLUMN warehouse.product_catalogue.name IS
    'Product name as the catalogue gives it, trimmed; null when the feed has none.';
COMMENT ON COLUMN warehouse.product_catalogue.category IS 'Product category, trimmed.';
COMMENT ON COLUMN warehouse.product_catalogue.price IS
    'Unit price that day, exact to the cent (0.00 occurs in the feed and is kept).';
COMMENT ON COLUMN warehouse.product_catalogue.popularity IS
    'The source''s popularity score, 0 to 1.';
COMMENT ON COLUMN warehouse.product_catalogue.source_file IS
    'Landing file the row came from (date=YYYY-MM-DD/hour=HH/products.json.gz).';
COMMENT ON COLUMN warehouse.product_catalogue.source_line IS
    'Line of source_file the row came from, counted from 1.';

COMMENT ON TABLE warehouse.products IS
    'The current catalogue: each product as of its newest catalogue date.';
COMMENT ON COLUMN warehouse.products.sku IS 'Stock-keeping unit: the product''s id.';
COMMENT ON COLUMN warehouse.products.name IS
    'Product name, trimmed; null when the feed has none.';
COMMENT ON COLUMN warehouse.products.category IS 'Product category, trimmed.';
COMMENT ON COLUMN warehouse.products.price IS 'Unit price in the newest catalogue.';
COMMENT ON COLUMN warehouse.products.popularity IS 'The source''s popularity score, 0 to 1.';
COMMENT ON COLUMN warehouse.products.catalogue_date IS
    'Date of the newest catalogue that lists the product.';
COMMENT ON COLUMN warehouse.products.source_file IS 'Landing file of that catalogue.';
COMMENT ON COLUMN warehouse.products.source_line IS 'Line of source_file, counted from 1.';

--------------------------------------------------------------------------------- customers
COMMENT ON TABLE warehouse.customers IS
    'Each customer''s newest record, without direct identifiers: the person appears only as '
    'a pseudonym (personal data is in pii.customers).';
COMMENT ON COLUMN warehouse.customers.customer_key IS
    'Pseudonym of the customer: HMAC-SHA-256 of the customer id under the pseudonym key.';
COMMENT ON COLUMN warehouse.customers.city IS 'Home city, trimmed.';
COMMENT ON COLUMN warehouse.customers.country IS 'Home country, trimmed.';
COMMENT ON COLUMN warehouse.customers.postcode_district IS
    'Outward code of a UK postcode or routing key of an Eircode: an area, not an address.';
COMMENT ON COLUMN warehouse.customers.segment IS 'The source''s customer segment.';
COMMENT ON COLUMN warehouse.customers.last_change IS
    'Date of the record''s last change at the source; the latest wins.';
COMMENT ON COLUMN warehouse.customers.source_file IS
    'Landing file of the record (date=YYYY-MM-DD/hour=HH/customers.json.gz).';
COMMENT ON COLUMN warehouse.customers.source_line IS 'Line of source_file, counted from 1.';

------------------------------------------------------------------------------ transactions
COMMENT ON TABLE warehouse.transactions IS
    'One row per transaction, stored once (from its earliest place in the landing zone); '
    'partitioned by month of transaction_time.';
COMMENT ON COLUMN warehouse.transactions.transaction_id IS 'The source''s transaction id.';
COMMENT ON COLUMN warehouse.transactions.customer_key IS
    'Pseudonym of the customer (see warehouse.customers.customer_key).';
COMMENT ON COLUMN warehouse.transactions.transaction_time IS
    'Local time of the transaction, without a zone, as the shop records it.';
COMMENT ON COLUMN warehouse.transactions.delivery_city IS 'City of the delivery address.';
COMMENT ON COLUMN warehouse.transactions.delivery_country IS 'Country of the delivery address.';
COMMENT ON COLUMN warehouse.transactions.delivery_postcode_district IS
    'District of the delivery postcode: an area, not an address.';
COMMENT ON COLUMN warehouse.transactions.total_cost IS
    'Total of the transaction: the sum of its purchased lines.';
COMMENT ON COLUMN warehouse.transactions.source_file IS
    'Landing file of the stored copy (date=YYYY-MM-DD/hour=HH/transactions.json.gz).';
COMMENT ON COLUMN warehouse.transactions.source_line IS 'Line of source_file, counted from 1.';

COMMENT ON TABLE warehouse.transaction_items IS
    'One row per purchased line of a transaction, in the order of the source''s list.';
COMMENT ON COLUMN warehouse.transaction_items.transaction_id IS 'The line''s transaction.';
COMMENT ON COLUMN warehouse.transaction_items.transaction_time IS
    'The transaction''s time: lines are partitioned with their transaction.';
COMMENT ON COLUMN warehouse.transaction_items.line_number IS
    'Place of the line in the transaction, counted from 1.';
COMMENT ON COLUMN warehouse.transaction_items.sku IS 'The product bought.';
COMMENT ON COLUMN warehouse.transaction_items.quantity IS 'Units bought.';
COMMENT ON COLUMN warehouse.transaction_items.price IS 'Unit price charged.';
COMMENT ON COLUMN warehouse.transaction_items.total IS 'price x quantity.';

COMMENT ON TABLE warehouse.transaction_ids IS
    'Every stored transaction id once, with its time and place: keeps ids unique across the '
    'months of warehouse.transactions.';
COMMENT ON COLUMN warehouse.transaction_ids.transaction_id IS 'The source''s transaction id.';
COMMENT ON COLUMN warehouse.transaction_ids.transaction_time IS 'The transaction''s time.';
COMMENT ON COLUMN warehouse.transaction_ids.source_file IS 'Landing file of the stored copy.';
COMMENT ON COLUMN warehouse.transaction_ids.source_line IS 'Line of source_file, counted from 1.';

-------------------------------------------------------------------------- erasure requests
COMMENT ON TABLE privacy.erasure_log IS
    'One row per distinct erasure request and its outcome; no e-mail, name, phone or address.';
COMMENT ON COLUMN privacy.erasure_log.request_id IS
    'Keyed hash of the normalised (customer id, e-mail) pair: the same request seen twice is '
    'one row.';
COMMENT ON COLUMN privacy.erasure_log.customer_key IS 'Pseudonym of the customer named.';
COMMENT ON COLUMN privacy.erasure_log.email_key IS
    'Keyed hash of the normalised e-mail the request gives.';
COMMENT ON COLUMN privacy.erasure_log.outcome IS
    'erased, already_erased, unknown_customer (pending until the customer arrives) or '
    'email_mismatch.';
COMMENT ON COLUMN privacy.erasure_log.removed IS
    'Rows removed per table, e.g. {"pii.customers": 1, "pii.delivery_addresses": 12}.';
COMMENT ON COLUMN privacy.erasure_log.source_file IS
    'Landing file of the request (date=YYYY-MM-DD/hour=HH/erasure-requests.json[.gz]).';
COMMENT ON COLUMN privacy.erasure_log.source_line IS 'Line of source_file, counted from 1.';
COMMENT ON COLUMN privacy.erasure_log.processed_at IS 'When the request was carried out.';
