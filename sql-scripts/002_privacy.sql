-- 002: GDPR erasure bookkeeping and the database roles that keep personal data apart.
--
-- privacy.erased_customers is the tombstone list: every later load drops or scrubs the records
-- of a customer listed here, so replaying old landing files cannot bring the customer back.
-- privacy.erasure_log is the audit trail. Neither holds an e-mail, name, phone or address.

CREATE SCHEMA IF NOT EXISTS privacy;

CREATE TABLE privacy.erased_customers (
    customer_key warehouse.pseudonym PRIMARY KEY,
    -- Kept only so that a key rotation can re-key this tombstone; the id alone names nobody
    -- once the person's data is gone, and without it the erasure could not be honoured.
    customer_id  text NOT NULL UNIQUE,
    -- keyed hash of the erased e-mail: recognises it in lines too broken to parse
    email_key    warehouse.pseudonym,
    request_id   text NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per distinct request (the same request in .json and .json.gz is one request).
-- A request for a customer not known yet stays 'unknown_customer' and pending: should the
-- customer arrive later (a backfill of older files) with the same e-mail, the erasure is
-- carried out on arrival, so the order in which files load does not decide who is erased.
CREATE TABLE privacy.erasure_log (
    -- keyed hash of the normalised (customer id, e-mail) pair
    request_id   text PRIMARY KEY,
    customer_key warehouse.pseudonym NOT NULL,
    -- keyed hash of the normalised e-mail the request gives
    email_key    warehouse.pseudonym NOT NULL,
    outcome      text NOT NULL
        CHECK (outcome IN ('erased', 'already_erased', 'unknown_customer', 'email_mismatch')),
    -- rows removed per table, e.g. {"pii.customers": 1, "pii.delivery_addresses": 12}
    removed      jsonb NOT NULL DEFAULT '{}',
    source_file  text NOT NULL,
    source_line  integer NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erasure_log_pending ON privacy.erasure_log (customer_key)
    WHERE outcome = 'unknown_customer';

------------------------------------------------------------------------------ roles
-- Group roles; LOGIN without a password, so local trust authentication works out of the box
-- while a server with password authentication needs `ALTER ROLE ... PASSWORD` first.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['warehouse_loader', 'warehouse_analyst',
                                     'warehouse_privacy_officer'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        END IF;
    END LOOP;
END
$$;

-- Roles are shared by every database of a server: grant on this database's objects only.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO warehouse_loader, '
                   'warehouse_analyst, warehouse_privacy_officer', current_database());
END
$$;

-- The loader writes everything.
GRANT USAGE, CREATE ON SCHEMA warehouse, pii, ops, privacy TO warehouse_loader;
GRANT ALL ON ALL TABLES IN SCHEMA warehouse, pii, ops, privacy TO warehouse_loader;
GRANT ALL ON ALL SEQUENCES IN SCHEMA warehouse, pii, ops, privacy TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA warehouse, pii, ops, privacy
    GRANT ALL ON TABLES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA warehouse, pii, ops, privacy
    GRANT ALL ON SEQUENCES TO warehouse_loader;

-- The analyst reads analytics tables and the load log, and of the quarantine only where a
-- rejected record came from: its payload and reasons can hold personal data.
GRANT USAGE ON SCHEMA warehouse, ops TO warehouse_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA warehouse TO warehouse_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA warehouse GRANT SELECT ON TABLES TO warehouse_analyst;
GRANT SELECT ON ops.load_log, ops.schema_migrations TO warehouse_analyst;
GRANT SELECT (dataset, source_file, line_number) ON ops.quarantine TO warehouse_analyst;

-- The privacy officer reads personal data and carries out erasure.
GRANT USAGE ON SCHEMA warehouse, pii, ops, privacy TO warehouse_privacy_officer;
GRANT SELECT ON ALL TABLES IN SCHEMA warehouse, pii, ops, privacy TO warehouse_privacy_officer;
GRANT DELETE ON ALL TABLES IN SCHEMA pii TO warehouse_privacy_officer;
GRANT DELETE ON warehouse.customers, ops.quarantine TO warehouse_privacy_officer;
GRANT UPDATE (error) ON ops.load_log TO warehouse_privacy_officer;
-- loading the erasure-request files themselves
GRANT INSERT ON ops.load_log, ops.quarantine TO warehouse_privacy_officer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO warehouse_privacy_officer;
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA privacy TO warehouse_privacy_officer;
ALTER DEFAULT PRIVILEGES IN SCHEMA pii, privacy
    GRANT SELECT ON TABLES TO warehouse_privacy_officer;
