"""Benchmarks, run on demand (not part of the tests): ``python -m deskguard.bench [NAME ...]``."""
