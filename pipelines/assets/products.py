"""The product catalogue, one daily partition per date=YYYY-MM-DD/hour=00/products.json.gz."""

from pipelines.assets.dataset_checks import ACCOUNTED_FOR, QUARANTINE_RATE, SCHEMA_DRIFT
from pipelines.assets.loading import dataset_asset
from pipelines.partitions import DAILY, DAILY_BACKFILL

DATASET = "products"

products = dataset_asset(
    "products",
    DATASET,
    DAILY,
    DAILY_BACKFILL,
    checks=[QUARANTINE_RATE, ACCOUNTED_FOR, SCHEMA_DRIFT],
    description="The day's catalogue: every product's price that day in "
    "warehouse.product_catalogue, and warehouse.products as of the newest catalogue.",
)
