"""The datasets of the landing zone: each module holds one dataset's rules (etl.dataset.Dataset)."""
