"""Reading the landing zone: discovering drops, parsing and validating records, cleaning values,
and noticing fields the schemas do not know."""
