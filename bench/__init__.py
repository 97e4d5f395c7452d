"""Benchmarks: each one times vidrag next to a same-run baseline on the same machine."""
