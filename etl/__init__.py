"""Landing zone to warehouse: validation, cleaning, pseudonymisation and loading (no Dagster)."""
