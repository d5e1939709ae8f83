-- 090: personal data stored only as ciphertext (etl/crypto.py), under data keys of each
-- customer's kept in a keystore apart from the warehouse (etl/keystore.py); quarantined
-- payloads under a key per day of quarantine. A dump, base backup or replica of this database
-- then holds no direct identifier in plain text, and destroying a key erases every copy.
--
-- Each value is nonce || AES-256-GCM ciphertext and tag, bound to its table, column and owner.
-- Encrypting needs the keys, which SQL does not have: the plaintext columns are renamed
-- *_plaintext here and, where they hold rows (a warehouse from before 090), encrypted and
-- dropped by the next run or `warehouse db migrate` (etl/encryption_upgrade.py), which then
-- asks for VACUUM FULL; in a new or empty warehouse they are dropped at once.

ALTER TABLE pii.customers RENAME COLUMN first_name TO first_name_plaintext;
ALTER TABLE pii.customers RENAME COLUMN last_name TO last_name_plaintext;
ALTER TABLE pii.customers RENAME COLUMN date_of_birth TO date_of_birth_plaintext;
ALTER TABLE pii.customers RENAME COLUMN email TO email_plaintext;
ALTER TABLE pii.customers RENAME COLUMN phone_number TO phone_number_plaintext;
ALTER TABLE pii.customers RENAME COLUMN phone_extension TO phone_extension_plaintext;
ALTER TABLE pii.customers RENAME COLUMN address TO address_plaintext;
ALTER TABLE pii.customers RENAME COLUMN postcode TO postcode_plaintext;
ALTER TABLE pii.customers
    ALTER COLUMN address_plaintext DROP NOT NULL,
    ALTER COLUMN postcode_plaintext DROP NOT NULL,
    ADD COLUMN first_name bytea,
    ADD COLUMN last_name bytea,
    ADD COLUMN date_of_birth bytea,
    ADD COLUMN email bytea,
    ADD COLUMN phone_number bytea,
    ADD COLUMN phone_extension bytea,
    ADD COLUMN address bytea,
    ADD COLUMN postcode bytea,
    -- keyed hash of the normalised e-mail, as privacy.erased_customers has it: erasure matches
    -- a request's e-mail by it, never by the plaintext
    ADD COLUMN email_key warehouse.pseudonym;

ALTER TABLE pii.delivery_addresses RENAME COLUMN address TO address_plaintext;
ALTER TABLE pii.delivery_addresses RENAME COLUMN postcode TO postcode_plaintext;
ALTER TABLE pii.delivery_addresses
    ALTER COLUMN address_plaintext DROP NOT NULL,
    ALTER COLUMN postcode_plaintext DROP NOT NULL,
    ADD COLUMN address bytea,
    ADD COLUMN postcode bytea;

ALTER TABLE ops.quarantine RENAME COLUMN payload TO payload_plaintext;
ALTER TABLE ops.quarantine
    ALTER COLUMN payload_plaintext DROP NOT NULL,
    -- null once the key of key_day is destroyed (WAREHOUSE_QUARANTINE_RETENTION_DAYS)
    ADD COLUMN payload bytea,
    -- the day the line was quarantined, whose key (in the keystore) encrypts the payload
    ADD COLUMN key_day date,
    -- pseudonyms of the customer ids and keyed hashes of the e-mails the line names
    -- (etl/subjects.py): erasure deletes the lines naming a customer without decrypting any
    ADD COLUMN subjects text[] NOT NULL DEFAULT '{}';
CREATE INDEX quarantine_subjects ON ops.quarantine USING gin (subjects);

-- Erasure destroys the customer's data key in the keystore after the rows' deletion commits
-- here; until then this is null, and every run and erasure completes it first (etl/erasure.py).
ALTER TABLE privacy.erased_customers ADD COLUMN key_destroyed_at timestamptz;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pii.customers)
       AND NOT EXISTS (SELECT 1 FROM pii.delivery_addresses)
       AND NOT EXISTS (SELECT 1 FROM ops.quarantine) THEN
        ALTER TABLE pii.customers
            DROP COLUMN first_name_plaintext, DROP COLUMN last_name_plaintext,
            DROP COLUMN date_of_birth_plaintext, DROP COLUMN email_plaintext,
            DROP COLUMN phone_number_plaintext, DROP COLUMN phone_extension_plaintext,
            DROP COLUMN address_plaintext, DROP COLUMN postcode_plaintext;
        ALTER TABLE pii.delivery_addresses
            DROP COLUMN address_plaintext, DROP COLUMN postcode_plaintext;
        ALTER TABLE ops.quarantine DROP COLUMN payload_plaintext;
    END IF;
END
$$;


-- Every run drops the payloads whose day's key it destroyed, the privacy officer's too.
GRANT UPDATE (payload) ON ops.quarantine TO warehouse_privacy_officer;
