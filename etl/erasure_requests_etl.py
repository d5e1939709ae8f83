"""`python -m etl.erasure_requests_etl`: carry out the erasure requests alone, without Dagster.

Options as for `warehouse run`; the dataset's rules are in etl/datasets/erasure_requests.py.
"""

from etl.cli import standalone_main

if __name__ == "__main__":
    standalone_main("erasure-requests")
