"""Fast, always-on checks of the packaging files: the spec, the desktop entry and AppStream metainfo,
the icon script and its ICO/ICNS containers, the package data the app loads, the NSIS script."""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import pytest
from packaging_paths import INSTALLER, RESOURCES, ROOT

from deskguard.engine.state import AccountStatus
from deskguard.ui.icons import icon_file_name

SPEC = INSTALLER / "deskguard.spec"
DESKTOP = RESOURCES / "deskguard.desktop"
METAINFO = RESOURCES / "io.github.deskguard.DeskGuard.metainfo.xml"


# --- the PyInstaller spec ------------------------------------------------------------------------------


class _Recorder:
    """Stands in for PyInstaller's Analysis/PYZ/EXE/COLLECT/BUNDLE: records the arguments."""

    calls: dict[str, tuple] = {}

    def __init__(self, *args, **kwargs):
        type(self).calls[type(self).__name__] = (args, kwargs)
        self.args, self.kwargs = args, kwargs
        self.binaries, self.datas, self.pure, self.scripts = [], [], [], []  # TOCs of a real build


def load_spec() -> dict:
    pytest.importorskip("PyInstaller", reason="PyInstaller is in the 'package' dependency group")
    namespace = {"SPECPATH": str(INSTALLER), "SPEC": str(SPEC), "__file__": str(SPEC), "__name__": "__main__"}
    for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[name] = type(name, (_Recorder,), {})
    _Recorder.calls = {}
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    namespace["_calls"] = dict(_Recorder.calls)
    return namespace


@pytest.fixture(scope="module")
def spec() -> dict:
    return load_spec()


def test_spec_is_valid_python():
    ast.parse(SPEC.read_text(), filename=str(SPEC))


def test_spec_builds_a_one_folder_bundle_named_deskguard(spec):
    calls = spec["_calls"]
    assert set(calls) >= {"Analysis", "PYZ", "EXE", "COLLECT"}
    exe_kwargs = calls["EXE"][1]
    assert exe_kwargs["name"] == "deskguard" and exe_kwargs["exclude_binaries"] is True  # one folder
    assert calls["COLLECT"][1]["name"] == "deskguard"
    entry = Path(calls["Analysis"][0][0][0])
    assert entry.is_file() and "deskguard.cli" in entry.read_text()
    assert ("BUNDLE" in calls) == (sys.platform == "darwin")


def test_spec_excludes_unused_qt_and_the_gtk3_theme(spec):
    excludes = set(spec["_calls"]["Analysis"][1]["excludes"])
    for module in ("PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PyQt5", "tkinter"):
        assert module in excludes
    for needed in ("PySide6.QtSvg", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtTest", "PySide6.QtWidgets"):
        assert needed not in excludes  # pyqtgraph and the app import these
    keep = spec["keep_qt_file"]
    assert not keep("PySide6/Qt/plugins/platformthemes/libqgtk3.so")
    assert keep("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so")
    assert keep("PySide6/Qt/plugins/platforms/libqxcb.so") and keep("PySide6/Qt/plugins/platforms/libqoffscreen.so")
    assert keep("PySide6/Qt/plugins/platforms/qwindows.dll")
    assert not keep("PySide6/Qt/plugins/imageformats/libqpdf.so")
    assert not keep("PySide6/Qt/plugins/sqldrivers/libqsqlite.so")
    assert not keep("PySide6/Qt/translations/qtbase_de.qm")
    assert keep("deskguard/ui/icons/app.svg")


def test_spec_collects_the_runtime_needs_of_the_app_sdk_and_keyring(spec):
    analysis = spec["_calls"]["Analysis"][1]
    hidden = set(analysis["hiddenimports"])
    assert {"deskguard.cli", "deskguard.ui.app", "deskguard.runtime", "deskguard.simulator.server"} <= hidden
    assert any(name.startswith("keyring.backends.") for name in hidden)
    assert not any(name.startswith("deskguard.bench") for name in hidden)
    dests = {Path(dest).as_posix() for _src, dest in analysis["datas"]}
    assert any(d.startswith("keyring-") and d.endswith(".dist-info") for d in dests)  # entry points
    assert any(d.startswith("project_x_py-") for d in dests)


def test_spec_ships_every_data_file_of_the_package(spec):
    """Everything non-Python inside deskguard/ (icons...) is package data in the bundle."""
    analysis = spec["_calls"]["Analysis"][1]
    collected = {(Path(dest) / Path(src).name).as_posix() for src, dest in analysis["datas"]}
    package = ROOT / "deskguard"
    data_files = [p for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
                  and "__pycache__" not in p.parts and "bench" not in p.relative_to(package).parts]
    assert data_files, "the package has data files (its icons)"
    for path in data_files:
        assert path.relative_to(ROOT).as_posix() in collected, path


# --- resources the app loads at run time ------------------------------------------------------------


def test_every_icon_the_app_loads_is_package_data():
    names = {icon_file_name(None)} | {icon_file_name(status) for status in AccountStatus}
    for name in names:
        resource = files("deskguard.ui").joinpath("icons", name)
        assert resource.is_file(), name
        assert resource.read_bytes().lstrip().startswith(b"<svg")


def test_the_app_never_reads_from_the_checkout():
    """No module opens files under resources/ (only in a checkout): run-time files are package data."""
    offenders = []
    for path in (ROOT / "deskguard").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if '"resources/' in text or "'resources/" in text or '"resources"' in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_master_icon_and_the_packaged_app_icon_are_the_same(make_icons):
    assert (ROOT / "deskguard" / "ui" / "icons" / "app.svg").read_bytes() == make_icons.MASTER_SVG.read_bytes()
    assert make_icons.main(["--check"]) == 0


# --- icons: PNG sizes, ICO, ICNS ---------------------------------------------------------------------


def test_icon_script_renders_every_size_and_container(qapp, make_icons, tmp_path):
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QImageReader

    written = make_icons.build_icons(tmp_path)
    assert len(written) == len(make_icons.PNG_SIZES) + 2 + len(make_icons.TRAY_STATES) * len(make_icons.TRAY_SIZES)
    for size in make_icons.PNG_SIZES:
        image = QImage(str(tmp_path / "png" / f"deskguard-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0  # transparent corner
        assert image.pixelColor(size // 2, size // 2).alpha() == 255  # the shield
    for state in make_icons.TRAY_STATES:
        for size in make_icons.TRAY_SIZES:
            image = QImage(str(tmp_path / "tray" / f"deskguard-tray-{state}-{size}.png"))
            assert image.width() == size
    ico = (tmp_path / "deskguard.ico").read_bytes()
    assert make_icons.read_ico_sizes(ico) == list(make_icons.ICO_SIZES)
    icns = (tmp_path / "deskguard.icns").read_bytes()
    assert make_icons.read_icns_types(icns) == [kind.decode() for kind, _ in make_icons.ICNS_TYPES]
    # Qt's own readers (the ico and icns image-format plugins) understand both containers.
    for name, fmt, count in (("deskguard.ico", b"ico", len(make_icons.ICO_SIZES)),
                             ("deskguard.icns", b"icns", None)):
        if fmt not in [bytes(f.data()) for f in QImageReader.supportedImageFormats()]:
            continue
        data = QByteArray((tmp_path / name).read_bytes())
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buffer, fmt)
        assert reader.canRead(), name
        if count is not None:
            assert reader.imageCount() == count
        assert not reader.read().isNull()


def test_generated_icons_in_resources_are_present(make_icons):
    """build.py regenerates them; the checked-in copies exist for the .deb, NSIS and the .app."""
    out = make_icons.DEFAULT_OUT
    for size in make_icons.PNG_SIZES:
        assert (out / "png" / f"deskguard-{size}.png").is_file()
    assert make_icons.read_ico_sizes((out / "deskguard.ico").read_bytes())
    assert make_icons.read_icns_types((out / "deskguard.icns").read_bytes())


# --- desktop entry and AppStream metainfo ------------------------------------------------------------


def parse_desktop(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser(delimiters=("=",), strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections()[0] == "Desktop Entry"
    return dict(parser["Desktop Entry"])


def test_desktop_entry_is_valid():
    entry = parse_desktop(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "DeskGuard"
    assert entry["Exec"].split()[0] == "deskguard"
    assert entry["Icon"] == "deskguard"  # the hicolor name the .deb installs
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";") and "Finance" in entry["Categories"].split(";")
    if shutil.which("desktop-file-validate"):
        out = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_desktop_entry_matches_the_app_desktop_file_name():
    """Qt's setDesktopFileName("deskguard") ties the window to deskguard.desktop (Wayland app id)."""
    source = (ROOT / "deskguard" / "ui" / "app.py").read_text()
    assert 'setDesktopFileName("deskguard")' in source
    assert DESKTOP.name == "deskguard.desktop"


def test_metainfo_is_valid_appstream():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.deskguard.DeskGuard"
    assert root.findtext("name") == "DeskGuard"
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.find("launchable").text == DESKTOP.name
    assert root.find("provides/binary").text == "deskguard"
    assert root.find("description/p") is not None
    from deskguard import __version__

    assert root.find("releases/release").get("version") == __version__
    if shutil.which("appstreamcli"):
        out = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


# --- the build script and helpers --------------------------------------------------------------------


def test_build_script_reads_the_smoke_line(build_script):
    line = ("smoke: first paint 0.03 s, guarding 0.80 s, painted=True, "
            "first_paint_at=1795571010.511946, guarding_at=1795571011.285086")
    match = build_script.SMOKE_LINE.search(line)
    assert match and match["painted"] == "True" and float(match["paint_at"]) > 0
    assert build_script.SMOKE_LINE.search("smoke: first paint 0.03 s, guarding 0.80 s, painted=True")
    source = (ROOT / "deskguard" / "ui" / "app.py").read_text()
    assert 'f"smoke: first paint {' in source and "first_paint_at=" in source  # the format it parses


def test_the_debian_build_packages_are_listed_once_for_the_build_and_ci(build_script):
    packages = build_script.debian_build_packages()
    # The tools, and the libraries a clean Debian 12 lacked (dpkg-shlibdeps: "cannot find library").
    assert {"dpkg-dev", "binutils", "libwayland-cursor0", "libwayland-egl1", "libxcb-cursor0"} <= set(packages)
    assert all(p and " " not in p and "#" not in p for p in packages) and len(set(packages)) == len(packages)
    assert "installer/debian-build-deps.txt" in (ROOT / ".ci" / "run").read_text()  # what CI installs


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian-like system")
def test_the_build_finds_missing_debian_packages(build_script):
    assert build_script.missing_debian_packages(["dpkg", "deskguard-no-such-package"]) == ["deskguard-no-such-package"]


def test_the_build_names_every_missing_debian_package_in_one_message(build_script, monkeypatch):
    monkeypatch.setattr(build_script, "missing_debian_packages", lambda packages: ["libwayland-cursor0", "libwayland-egl1"])
    with pytest.raises(SystemExit) as stopped:
        build_script.check_debian_packages()
    message = str(stopped.value)
    assert "libwayland-cursor0, libwayland-egl1" in message
    assert "sudo apt-get install --no-install-recommends libwayland-cursor0 libwayland-egl1" in message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files")
def test_elf_reader_matches_readelf(elfdeps):
    import PySide6

    target = Path(PySide6.__file__).parent / "QtCore.abi3.so"
    needed = elfdeps.elf_needed(target)
    assert "libQt6Core.so.6" in needed
    if shutil.which("readelf"):
        out = subprocess.run(["readelf", "-d", str(target)], capture_output=True, text=True, check=True).stdout
        assert needed == [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    assert elfdeps.is_plain_library("libQt6Core.so.6") and elfdeps.is_plain_library("PySide6/Qt/lib/libicuuc.so.73")
    assert not elfdeps.is_plain_library("PySide6/Qt/plugins/platforms/libqxcb.so")
    assert not elfdeps.is_plain_library("PySide6/QtCore.abi3.so")
    assert not elfdeps.is_plain_library("libpython3.12.so.1.0")


@pytest.mark.skipif(shutil.which("makensis") is None, reason="makensis not installed (Debian: nsis)")
def test_nsis_script_compiles(build_script):
    build_script.check_nsis(build_script.Steps())


def test_nsis_script_is_per_user_with_an_hkcu_uninstaller():
    text = (INSTALLER / "windows" / "deskguard.nsi").read_text()
    assert "RequestExecutionLevel user" in text
    assert 'InstallDir "$LOCALAPPDATA\\Programs\\' in text
    assert 'WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString"' in text
    assert "$SMPROGRAMS" in text and "WriteUninstaller" in text
    assert "HKLM" not in text
