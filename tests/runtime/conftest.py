"""The runtime tests reuse the guardian end-to-end helpers (headless_harness, guardian_harness)."""

from __future__ import annotations

import sys
from pathlib import Path

GUARDIAN_TESTS = str(Path(__file__).resolve().parents[1] / "guardian")
if GUARDIAN_TESTS not in sys.path:
    sys.path.insert(0, GUARDIAN_TESTS)

from headless_harness import processes  # noqa: E402, F401 (a fixture, offered to this folder's tests)
