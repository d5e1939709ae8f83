-- 085: the fingerprint of each key the warehouse was built with (etl/key_fingerprints.py), so
-- that a command started with another key refuses instead of writing under it: a pseudonym
-- computed with the wrong key splits a customer in two, silently.
--
-- A fingerprint is an HMAC of a fixed label under the key, shortened: it tells keys apart and
-- reveals nothing of the key. `warehouse rotate-key` replaces it in the transaction that
-- re-keys the pseudonyms.

CREATE TABLE ops.key_fingerprints (
    -- which key: 'pseudonym' (WAREHOUSE_PSEUDONYM_KEY)
    name        text PRIMARY KEY,
    fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE ops.key_fingerprints IS
    'Fingerprint of each key the warehouse was built with; commands refuse any other key.';

-- Whichever role runs first records the fingerprint (the privacy officer may, with an erasure);
-- only the owner replaces it, by rotating the key.
GRANT SELECT, INSERT ON ops.key_fingerprints TO warehouse_loader, warehouse_privacy_officer;
