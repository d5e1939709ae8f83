"""The warehouse's own structure: migrations, monthly partitions, the marts and the advisory
locks that order its writers."""
