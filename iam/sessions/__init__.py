"""Browser login sessions (server-side rows, cookie holds a random token), CSRF tokens, and the
IdP's own secret keys derived from a KMS data key."""
