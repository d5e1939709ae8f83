"""Keys: envelope encryption of personal data, the keystore, key fingerprints, key rotation and
the upgrade that encrypts an existing warehouse."""
