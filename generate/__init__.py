"""Seeded synthetic landing-zone drops in the source feed's exact format, quirks and breakage.

`generate(out, ...)` writes them and returns a `GenerationReport`; `main` is the command line,
`python -m generate`. Where each part lives:

- landing_zone: `generate` and its defaults, the order of the planning steps
- drops: which file is written in which hour
- customers, people, addresses: the customers dataset, a customer's record, postal addresses
- products: the daily catalogue files; transactions: each hour's transaction lines
- erasure_requests: the GDPR requests
- defect_hours: which hours get the injected defects; defects: the broken records and files
- report: `GenerationReport` and `DATASETS`; files: the gzip writer; period: hours and folders
- vocabulary: word lists, places, phone formats; money, randomness: shared small pieces
"""

from generate.cli import main
from generate.landing_zone import (
    DEFAULT_COMPRESSLEVEL,
    DEFAULT_CUSTOMERS_PER_HOUR,
    DEFAULT_DAYS,
    DEFAULT_PRODUCTS,
    DEFAULT_SEED,
    DEFAULT_START_DATE,
    DEFAULT_TRANSACTIONS_PER_HOUR,
    generate,
)
from generate.report import DATASETS, GenerationReport

__all__ = [
    "DATASETS",
    "DEFAULT_COMPRESSLEVEL",
    "DEFAULT_CUSTOMERS_PER_HOUR",
    "DEFAULT_DAYS",
    "DEFAULT_PRODUCTS",
    "DEFAULT_SEED",
    "DEFAULT_START_DATE",
    "DEFAULT_TRANSACTIONS_PER_HOUR",
    "GenerationReport",
    "generate",
    "main",
]
