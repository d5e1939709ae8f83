"""Benchmarks: the warehouse loader against bare COPY, row-by-row inserts and dlt (`make bench`)."""
