-- marts.note_pending_days and the statement triggers that run it: every statement that changes
-- a table the marts read notes the days it changed (a transaction's day, a catalogue's day, a
-- load's partition day, before and after the change) in marts.pending_days, which
-- marts.refresh_pending() recomputes.

-- Trigger: note the days of the rows a statement changed; TG_ARGV[0] is the date column.
-- SECURITY DEFINER: the loader and the privacy officer change the tables, not the marts.
CREATE OR REPLACE FUNCTION marts.note_pending_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO marts.pending_days (day) SELECT DISTINCT %I::date FROM new_rows',
                       TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('INSERT INTO marts.pending_days (day) SELECT DISTINCT %I::date FROM old_rows',
                       TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION marts.note_pending_days() FROM PUBLIC;

-- The triggers, by the table the marts read and the column that dates its rows: <prefix>_inserted,
-- _updated and _deleted (transactions_inserted, ..., catalogue_deleted, load_log_inserted) note
-- the days of the rows a statement inserted, updated (before and after) or deleted. Items change only with their transaction (inserted with it, deleted by
-- cascade), so the transaction's triggers cover them. The load log is append-only (an erasure
-- only rewrites error texts, which no mart reads): inserts only.
DO $$
DECLARE
    source record;
    change record;
BEGIN
    FOR source IN
        SELECT * FROM (VALUES
            ('transactions', 'warehouse.transactions', 'transaction_time', true),
            ('catalogue', 'warehouse.product_catalogue', 'catalogue_date', true),
            ('load_log', 'ops.load_log', 'partition_date', false)
        ) AS s (prefix, tab, date_column, updated_and_deleted)
    LOOP
        FOR change IN
            SELECT * FROM (VALUES
                ('inserted', 'INSERT', 'NEW TABLE AS new_rows'),
                ('updated', 'UPDATE', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'),
                ('deleted', 'DELETE', 'OLD TABLE AS old_rows')
            ) AS c (suffix, event, transition_tables)
            WHERE c.event = 'INSERT' OR source.updated_and_deleted
        LOOP
            EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER %s ON %s REFERENCING %s'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION marts.note_pending_days(%L)',
                           source.prefix || '_' || change.suffix, change.event, source.tab,
                           change.transition_tables, source.date_column);
        END LOOP;
    END LOOP;
END
$$;
