"""Token-signing keys: generated with cryptography, private halves sealed under a KMS data key,
rotated with the previous public keys kept in the JWKS until their tokens expire."""
