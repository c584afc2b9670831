"""Side-by-side benchmarks against the anchors each issue names; `python -m benchmarks`."""
