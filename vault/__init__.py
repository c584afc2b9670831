"""Tokenization vault: token formats, envelope encryption under KMS data keys, the token store,
single and batch APIs, detokenize with a declared purpose, crypto-shredding and proxies."""
