"""Reading the warehouse back: status, doctor, data-quality measures, freshness and the catalog
of its tables."""
