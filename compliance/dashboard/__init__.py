"""Evidence dashboard: server-rendered pages over the evidence, as of any day."""
