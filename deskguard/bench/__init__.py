"""Developer tools, run on demand (not part of the tests, nor of the frozen bundle, whose spec
excludes this package): the benchmarks, ``python -m deskguard.bench [NAME ...]``, and the soak,
``python -m deskguard.bench.soak``."""
