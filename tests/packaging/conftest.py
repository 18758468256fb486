"""Packaging checks: the files in resources/ and installer/, and (behind DESKGUARD_PACKAGING=1) a real build.

Qt runs offscreen (set before any QApplication exists: pytest-qt creates it lazily in ``qapp``)."""

from __future__ import annotations

import os
import sys
from types import ModuleType

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from packaging_paths import INSTALLER, RESOURCES, load_module


@pytest.fixture(scope="session")
def make_icons() -> ModuleType:
    return load_module(RESOURCES / "make_icons.py", "deskguard_make_icons")


@pytest.fixture(scope="session")
def build_script() -> ModuleType:
    if str(INSTALLER) not in sys.path:
        sys.path.insert(0, str(INSTALLER))  # build.py imports elfdeps from its own folder
    return load_module(INSTALLER / "build.py", "deskguard_build")


@pytest.fixture(scope="session")
def elfdeps() -> ModuleType:
    return load_module(INSTALLER / "elfdeps.py", "elfdeps")
