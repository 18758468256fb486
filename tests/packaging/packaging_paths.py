"""Paths and a by-path importer for the packaging tests (a uniquely named module: every test folder
has its own conftest, so ``from conftest import`` would pick whichever was imported first)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
INSTALLER = ROOT / "installer"


def load_module(path: Path, name: str) -> ModuleType:
    """A script from resources/ or installer/ (they are not packages), imported by path."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
