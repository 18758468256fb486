"""The soak command, short: ``python -m deskguard.bench.soak`` for ~20 s (the compressed hour squeezed
further, with a fault every ~1.5 s) must finish with every invariant held, and say so."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration]


def test_a_short_soak_holds_every_invariant():
    run = subprocess.run(
        [sys.executable, "-m", "deskguard.bench.soak", "--minutes", "0.33", "--accounts", "2", "--seed", "3",
         "--fault-every", "1.5", "--quiet-every", "7"],
        capture_output=True, text=True, timeout=110,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    counts = {name.strip(): int(n) for name, n in re.findall(r"^  ([a-z ]+?)\s+(\d+)\b", out, re.MULTILINE)}
    assert counts["invariant violations"] == 0
    assert counts["events"] > 500 and counts["trader actions"] > 100
    assert counts["breaches"] > 10  # locks and enforcements happened, not a quiet market
    assert counts["faults"] >= 5
    faults = re.search(r"^  faults .*\((.*)\)$", out, re.MULTILINE)
    assert faults is not None and len(faults.group(1).split(",")) >= 3  # several kinds of fault
    assert counts["quiet points"] >= 2 and counts["lock checks"] > 0
    assert "positions seen open under a lock" in out and "bound" in out
