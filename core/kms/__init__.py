"""Key management: data-encryption keys wrapped by a key-encryption key that never leaves the
KMS (OpenBao/Vault Transit) or, embedded, a local key file; signing for audit checkpoints and
evidence exports."""
