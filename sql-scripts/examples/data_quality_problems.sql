-- Data quality problems: every dataset and day on which records were quarantined, duplicated
-- or orphaned, or a file was rejected or failed, worst first. An empty result is good news.
-- Quarantined lines themselves: `warehouse quarantine list --dataset NAME` (as the loader).
SELECT partition_date, dataset, files, files_rejected, files_failed, records_read,
       records_quarantined, records_duplicate, orphans,
       round(100.0 * (records_quarantined + records_duplicate) / nullif(records_read, 0), 2)
           AS not_loaded_pct
FROM marts.data_quality
WHERE records_quarantined > 0 OR records_duplicate > 0 OR orphans > 0
   OR files_rejected > 0 OR files_failed > 0
ORDER BY files_failed + files_rejected DESC, records_quarantined + records_duplicate DESC,
         orphans DESC, partition_date, dataset;
