"""OAuth 2 / OpenID Connect provider on authlib's server components, served by FastAPI."""
