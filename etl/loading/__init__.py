"""Loading drops into the warehouse: batches of files, staging, merges, the load log, the
quarantine, retries and worker processes."""
