"""`python -m etl.products_etl`: load the products files alone, without Dagster.

Options as for `warehouse run`; the dataset's rules are in etl/datasets/products.py.
"""

from etl.cli import standalone_main

if __name__ == "__main__":
    standalone_main("products")
