"""`python -m etl.transactions_etl`: load the transactions files alone, without Dagster.

Options as for `warehouse run`; the dataset's rules are in etl/datasets/transactions.py.
"""

from etl.cli import standalone_main

if __name__ == "__main__":
    standalone_main("transactions")
