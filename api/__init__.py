"""Read-only HTTP API over the analytics marts."""
