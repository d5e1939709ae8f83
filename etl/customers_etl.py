"""`python -m etl.customers_etl`: load the customers files alone, without Dagster.

Options as for `warehouse run`; the dataset's rules are in etl/datasets/customers.py.
"""

from etl.cli import standalone_main

if __name__ == "__main__":
    standalone_main("customers")
