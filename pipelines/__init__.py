"""Dagster definitions that orchestrate the etl package (the only package that imports dagster)."""
