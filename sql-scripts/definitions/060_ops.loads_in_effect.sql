-- The load in effect for each landing file: its latest load whose content the warehouse holds
-- (loaded, rejected, or scrubbed: the file rewritten by `warehouse erase --scrub-landing`,
-- which carries the counts of the load it follows); a failed load left nothing. Of the files of
-- the landing days first_day..last_day, or of every day when they are null: the bounds keep it
-- to those months of the load log. Its one definition: the load log (etl/loading/load_log.py), status,
-- doctor, the asset checks (etl/inspection/quality.py) and the marts' refresh all read it here.
CREATE OR REPLACE FUNCTION ops.loads_in_effect(first_day date DEFAULT NULL,
                                               last_day date DEFAULT NULL)
RETURNS SETOF ops.load_log
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (source_file) * FROM ops.load_log
    WHERE status IN ('loaded', 'rejected', 'scrubbed')
      AND (first_day IS NULL OR partition_date >= first_day)
      AND (last_day IS NULL OR partition_date <= last_day)
    ORDER BY source_file, load_id DESC
$$;
