"""Second factors: TOTP with single-use recovery codes, and WebAuthn/passkeys."""
