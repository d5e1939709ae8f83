"""What makes a transaction an orphan: the one rule the transactions merge (counting a file's
orphans as it loads) and the measures of etl/inspection/quality.py (counting those stored now)
both apply.

Each is a SQL condition on a transaction aliased `{t}` or a line aliased `{i}` (str.format).
A transaction of an erased customer is no orphan (its customer was known, and is gone): the
merge and the measures add that condition, each in their own terms.
"""

# Its customer is not in the warehouse.
UNKNOWN_CUSTOMER = (
    "NOT EXISTS (SELECT 1 FROM warehouse.customers c WHERE c.customer_key = {t}.customer_key)"
)
# One of its products is not in the catalogue.
UNKNOWN_PRODUCT = "NOT EXISTS (SELECT 1 FROM warehouse.products p WHERE p.sku = {i}.sku)"
