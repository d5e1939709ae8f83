-- 001: the warehouse's three schemas and their tables.
--
--   warehouse  analytics tables. No direct identifiers: a customer appears only as customer_key,
--              the keyed pseudonym (HMAC-SHA-256 of the customer id, see etl/pseudonym.py).
--   pii        personal data (names, e-mail, phone, date of birth, street addresses), keyed by
--              customer id, kept apart so that access and erasure have one place to look.
--   ops        how the data got here: the load log and the quarantine of rejected records.
--
-- Every loaded row names the landing file and line it came from (source_file, source_line), so
-- a changed file can be replaced exactly and a duplicate resolved the same way whatever the
-- order of the loads. Money is numeric, never float.

CREATE SCHEMA IF NOT EXISTS warehouse;
CREATE SCHEMA IF NOT EXISTS pii;
CREATE SCHEMA IF NOT EXISTS ops;

CREATE DOMAIN warehouse.pseudonym AS text
    CHECK (VALUE ~ '^[0-9a-f]{64}$');
CREATE DOMAIN warehouse.money AS numeric(12, 2)
    CHECK (VALUE >= 0);

---------------------------------------------------------------------------- products
-- The catalogue arrives daily; every day's version of every product is kept.
CREATE TABLE warehouse.product_catalogue (
    sku            integer NOT NULL,
    catalogue_date date NOT NULL,
    name           text,
    category       text NOT NULL,
    price          warehouse.money NOT NULL,
    popularity     double precision NOT NULL,
    source_file    text NOT NULL,
    source_line    integer NOT NULL,
    PRIMARY KEY (sku, catalogue_date)
);
CREATE INDEX product_catalogue_source ON warehouse.product_catalogue (source_file);

-- The current catalogue: each product as of its newest catalogue (derived from the above).
CREATE TABLE warehouse.products (
    sku            integer PRIMARY KEY,
    name           text,
    category       text NOT NULL,
    price          warehouse.money NOT NULL,
    popularity     double precision NOT NULL,
    catalogue_date date NOT NULL,
    source_file    text NOT NULL,
    source_line    integer NOT NULL
);

--------------------------------------------------------------------------- customers
CREATE TABLE pii.customers (
    customer_id          text PRIMARY KEY CHECK (customer_id ~ '^[0-9]+$'),
    customer_key         warehouse.pseudonym NOT NULL UNIQUE,
    first_name           text,
    last_name            text,
    date_of_birth        date,
    email                text,
    phone_number         text,
    -- false when the parser could not read phone_number: it then holds the source's text as is
    phone_number_is_e164 boolean,
    phone_extension      text,
    address              text NOT NULL,
    postcode             text NOT NULL,
    city                 text NOT NULL,
    country              text NOT NULL,
    last_change          date NOT NULL,
    source_file          text NOT NULL,
    source_line          integer NOT NULL
);
CREATE INDEX pii_customers_source ON pii.customers (source_file);

CREATE TABLE warehouse.customers (
    customer_key      warehouse.pseudonym PRIMARY KEY,
    city              text NOT NULL,
    country           text NOT NULL,
    -- outward code of a UK postcode or routing key of an Eircode: an area, not an address
    postcode_district text,
    segment           text,
    last_change       date NOT NULL,
    source_file       text NOT NULL,
    source_line       integer NOT NULL
);
CREATE INDEX customers_source ON warehouse.customers (source_file);

------------------------------------------------------------------------ transactions
CREATE TABLE warehouse.transactions (
    transaction_id             uuid PRIMARY KEY,
    customer_key               warehouse.pseudonym NOT NULL,
    transaction_time           timestamp NOT NULL,
    delivery_city              text NOT NULL,
    delivery_country           text NOT NULL,
    delivery_postcode_district text,
    total_cost                 warehouse.money NOT NULL,
    source_file                text NOT NULL,
    source_line                integer NOT NULL
);
CREATE INDEX transactions_customer ON warehouse.transactions (customer_key);
CREATE INDEX transactions_time ON warehouse.transactions (transaction_time);
CREATE INDEX transactions_source ON warehouse.transactions (source_file);

-- One row per purchased line, in the order of the source's purchases.products array.
CREATE TABLE warehouse.transaction_items (
    transaction_id uuid NOT NULL REFERENCES warehouse.transactions ON DELETE CASCADE,
    line_number    smallint NOT NULL,
    sku            integer NOT NULL,
    quantity       integer NOT NULL CHECK (quantity > 0),
    price          warehouse.money NOT NULL,
    total          warehouse.money NOT NULL,
    PRIMARY KEY (transaction_id, line_number)
);
CREATE INDEX transaction_items_sku ON warehouse.transaction_items (sku);

CREATE TABLE pii.delivery_addresses (
    transaction_id uuid PRIMARY KEY REFERENCES warehouse.transactions ON DELETE CASCADE,
    customer_id    text NOT NULL,
    address        text NOT NULL,
    postcode       text NOT NULL,
    city           text NOT NULL,
    country        text NOT NULL
);
CREATE INDEX delivery_addresses_customer ON pii.delivery_addresses (customer_id);

------------------------------------------------------------------------------- ops
-- One row per attempt to load a landing file. A file whose checksum matches its last
-- 'loaded', 'rejected' or 'scrubbed' row is not loaded again.
CREATE TABLE ops.load_log (
    load_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset             text NOT NULL,
    partition_date      date NOT NULL,
    partition_hour      smallint NOT NULL CHECK (partition_hour BETWEEN 0 AND 23),
    source_file         text NOT NULL,
    checksum            text NOT NULL,
    -- loaded: the file's records are in the warehouse or quarantine;
    -- rejected: the file could not be read whole, every record read from it is in quarantine;
    -- failed: an error interrupted the load, nothing of it was kept, the next run retries it;
    -- scrubbed: `warehouse erase --scrub-landing` rewrote the file without erased customers,
    --           and the warehouse already holds what the new content says (nothing to load).
    status              text NOT NULL
        CHECK (status IN ('loaded', 'rejected', 'failed', 'scrubbed')),
    records_read        integer NOT NULL DEFAULT 0,
    records_loaded      integer NOT NULL DEFAULT 0,
    records_duplicate   integer NOT NULL DEFAULT 0,
    records_quarantined integer NOT NULL DEFAULT 0,
    -- records of an erased customer, dropped so that the customer stays erased
    records_erased      integer NOT NULL DEFAULT 0,
    -- records loaded without their personal part because their customer is erased
    records_scrubbed    integer NOT NULL DEFAULT 0,
    -- transactions whose customer or a product was not known when loaded
    orphans             integer NOT NULL DEFAULT 0,
    error               text,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT every_record_accounted_for CHECK (
        records_read = records_loaded + records_duplicate + records_quarantined + records_erased
    ),
    CONSTRAINT scrubbed_are_loaded CHECK (records_scrubbed <= records_loaded)
);
CREATE INDEX load_log_file ON ops.load_log (source_file, load_id DESC);
CREATE INDEX load_log_partition ON ops.load_log (dataset, partition_date, partition_hour);

-- Records that failed validation, with every reason, where they came from and the raw line.
CREATE TABLE ops.quarantine (
    dataset     text NOT NULL,
    source_file text NOT NULL,
    line_number integer NOT NULL,
    -- [{"path": "$.purchases.total_cost", "message": "..."}, ...]
    errors      jsonb NOT NULL,
    -- the line as received; bytes that are not UTF-8 appear as \xNN
    payload     text NOT NULL,
    PRIMARY KEY (source_file, line_number)
);
CREATE INDEX quarantine_dataset ON ops.quarantine (dataset);
