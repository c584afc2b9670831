"""Vault proxies: outbound routes detokenize declared JSON fields on the way to an allow-listed
destination (the payment gateway); inbound routes tokenize them on the way to a registered
upstream. See docs/vault.md, "Proxies"."""
