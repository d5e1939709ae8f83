-- 062: a load-log row of a file rewritten by `warehouse erase --scrub-landing` (status
-- scrubbed) carries the counts of the load it follows. It is that file's load in effect
-- (ops.loads_in_effect), whose counts status, doctor, the checks and the marts add up; with
-- zeros, a scrubbed file seemed to hold no records while its rows were still there (doctor
-- reported "pii.customers holds 1 rows, its load 0"). Rows logged before take their
-- predecessor's counts.
UPDATE ops.load_log s
SET records_read = p.records_read, records_loaded = p.records_loaded,
    records_duplicate = p.records_duplicate, records_quarantined = p.records_quarantined,
    records_erased = p.records_erased, records_scrubbed = p.records_scrubbed,
    orphans = p.orphans
FROM ops.load_log p
WHERE s.status = 'scrubbed' AND s.records_read = 0
  AND p.source_file = s.source_file AND p.status IN ('loaded', 'rejected')
  AND p.load_id = (
      SELECT max(load_id) FROM ops.load_log q
      WHERE q.source_file = s.source_file AND q.load_id < s.load_id
        AND q.status IN ('loaded', 'rejected')
  );
