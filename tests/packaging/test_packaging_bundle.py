"""The real build: PyInstaller bundle, its --version and --smoke offscreen, and the .deb (Linux).

Slow (a minute or more): runs only with ``DESKGUARD_PACKAGING=1`` and the ``package`` dependency group:

    DESKGUARD_PACKAGING=1 uv run --group package pytest -m packaging
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
from packaging_paths import INSTALLER, ROOT

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(os.environ.get("DESKGUARD_PACKAGING") != "1", reason="set DESKGUARD_PACKAGING=1 to build"),
    pytest.mark.timeout(1800),
]

BUNDLE = ROOT / "dist" / "deskguard"
EXE = BUNDLE / ("deskguard.exe" if sys.platform == "win32" else "deskguard")
DEB_DIR = ROOT / "build" / "packaging-test"
MAX_BUNDLE_MB = 450
MAX_DEB_MB = 130


@pytest.fixture(scope="module")
def built(build_script):
    pytest.importorskip("PyInstaller", reason="PyInstaller is in the 'package' dependency group")
    # --fast: zstd for the .deb (seconds instead of minutes; the release build uses xz, smaller), and
    # written to build/packaging-test/ so that a release .deb in dist/ is not replaced.
    args = [sys.executable, str(INSTALLER / "build.py"), "--runs", "1", "--fast", "--package-dir", str(DEB_DIR)]
    if not (sys.platform.startswith("linux") and shutil.which("dpkg-deb") and shutil.which("dpkg-shlibdeps")):
        args.append("--no-package")
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-5000:]
    return out.stdout


def test_bundle_is_one_folder_under_the_size_target(built, build_script):
    assert EXE.is_file() and os.access(EXE, os.X_OK)
    assert (BUNDLE / "_internal").is_dir()
    size_mb = build_script.tree_size(BUNDLE) / 2**20
    assert size_mb < MAX_BUNDLE_MB, f"bundle {size_mb:.0f} MB"
    internal = BUNDLE / "_internal"
    assert not list(internal.rglob("*qgtk3*")), "Qt's GTK3 platform theme must not be bundled"
    assert not list(internal.rglob("libgtk-3*")), "no GTK3 libraries either"
    assert list(internal.rglob("deskguard/ui/icons/app.svg")), "package data (icons) are in the bundle"


def test_no_developer_tool_is_frozen(built):
    """The frozen app's modules (its PYZ archive) hold the app and none of the developer tools: the
    benchmarks and the soak (deskguard.bench), nor the old places of the soak, preview and screenshot."""
    from PyInstaller.archive.readers import CArchiveReader

    modules = set(CArchiveReader(str(EXE)).open_embedded_archive("PYZ.pyz").toc)
    assert {"deskguard.cli", "deskguard.ui.app", "deskguard.guardian", "deskguard.simulator.server"} <= modules
    tools = ("deskguard.bench", "deskguard.soak", "deskguard.ui.preview", "deskguard.ui.screenshot")
    assert sorted(m for m in modules if m.startswith(tools)) == []


def test_frozen_version(built, build_script):
    from deskguard import __version__

    out = subprocess.run([str(EXE), "--version"], capture_output=True, text=True, timeout=60, env=build_script.smoke_env())
    assert out.returncode == 0
    assert f"deskguard {__version__}" in out.stdout + out.stderr


def test_frozen_smoke_offscreen(built, build_script):
    home = tempfile.mkdtemp(prefix="deskguard-smoke-")
    try:
        env = build_script.smoke_env() | {"DESKGUARD_HOME": home}
        out = subprocess.run([str(EXE), "--smoke"], capture_output=True, text=True, timeout=120, env=env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    match = build_script.SMOKE_LINE.search(out.stdout)
    assert match and match["painted"] == "True", out.stdout


def test_the_frozen_app_runs_the_store_s_writer_process(built, tmp_path):
    """The guard starts its store's writer as ``<the app> store-writer``: the frozen app must
    answer it (else every write would fall back to the guard's own thread, and only a log line say so)."""
    from datetime import UTC, datetime

    from deskguard.store import Store
    from deskguard.store.writer import WriterProcess, encode_op

    path = tmp_path / "state.db"
    Store(path).close()
    writer = WriterProcess(path, secrets=["sk-frozen-secret-123"], argv=[str(EXE), "store-writer"])
    writer.start()
    writer.post([encode_op("audit", (1, None, "info", "from the frozen writer sk-frozen-secret-123"), {})],
                datetime(2026, 12, 4, tzinfo=UTC))
    assert writer.close() == []
    with Store(path) as store:
        assert [e.detail for e in store.audit_entries()] == ["from the frozen writer [redacted]"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the .deb is built on Linux")
def test_deb_contents(built, build_script):
    from deskguard import __version__

    debs = sorted(DEB_DIR.glob(f"deskguard_{__version__}_*.deb"))
    if not debs:
        pytest.skip("dpkg-deb/dpkg-shlibdeps not installed: no .deb")
    deb = debs[-1]
    assert deb.stat().st_size / 2**20 < MAX_DEB_MB
    info = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "Package: deskguard" in info and "libxcb1" in info and "libgl1" in info
    # Every package the .deb depends on is one the build checks for first (installer/debian-build-deps.txt).
    relations = re.findall(r"^(?:Depends|Recommends): (.*)$", info, re.MULTILINE)
    named = {alt.split("(")[0].strip() for rel in relations for dep in rel.split(",") for alt in dep.split("|")}
    assert named and named <= set(build_script.debian_build_packages()), named - set(build_script.debian_build_packages())
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/deskguard -> ../lib/deskguard/deskguard", "./usr/lib/deskguard/deskguard",
                 "./usr/share/applications/deskguard.desktop",
                 "./usr/share/metainfo/io.github.deskguard.DeskGuard.metainfo.xml",
                 "./usr/share/icons/hicolor/scalable/apps/deskguard.svg",
                 "./usr/share/icons/hicolor/48x48/apps/deskguard.png",
                 "./usr/share/icons/hicolor/512x512/apps/deskguard.png"):
        assert path in listing, path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Secret Service (D-Bus) keyring")
def test_frozen_app_reads_its_api_key_from_a_real_keyring(built, tmp_path):
    """The keyring backends survive freezing: the bundled app, headless, signs in to the bundled
    simulator with the API key it finds in a real Secret Service (gnome-keyring, private D-Bus)."""
    import signal
    import time

    from packaging_paths import load_module

    from deskguard.simulator import DEMO_API_KEY, DEMO_USERNAME

    keyring_session = load_module(ROOT / "tests" / "dialogs" / "keyring_session.py", "deskguard_keyring_session")
    try:
        session = keyring_session.start_secret_service(tmp_path / "keyring")
    except keyring_session.KeyringCannotStart as exc:
        pytest.skip(str(exc))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROJECTX_", "PROJECT_X_"))}
    env.update(DBUS_SESSION_BUS_ADDRESS=session.address, XDG_RUNTIME_DIR=str(session.runtime_dir),
               DESKGUARD_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    procs: list[subprocess.Popen] = []
    try:
        store = subprocess.run(
            [sys.executable, "-c", "import keyring, sys; keyring.set_password('deskguard', sys.argv[1], sys.argv[2]);"
             "print(type(keyring.get_keyring()).__module__)", DEMO_USERNAME, DEMO_API_KEY],
            env=env, capture_output=True, text=True, timeout=60)
        assert store.returncode == 0 and "SecretService" in store.stdout, store.stdout + store.stderr
        sim = subprocess.Popen([str(EXE), "simulator", "--port", "0", "--seed", "7"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(sim)
        first = sim.stdout.readline()
        assert "ProjectX simulator on http://127.0.0.1:" in first, first
        base = first.split(" on ", 1)[1].split()[0]
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[connection]\nusername = "{DEMO_USERNAME}"\napi_url = "{base}/api"\n'
            f'user_hub_url = "{base}/hubs/user"\nmarket_hub_url = "{base}/hubs/market"\n\n'
            "[rules.session_block]\nenabled = false\n")
        guard = subprocess.Popen([str(EXE), "--headless"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        procs.append(guard)
        seen, deadline = [], time.monotonic() + 90
        while time.monotonic() < deadline:
            line = guard.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "guarding…" in line:
                break
        assert any("guarding…" in line for line in seen), "".join(seen)
        guard.send_signal(signal.SIGTERM)
        assert guard.wait(timeout=30) == 0
        assert not keyring_session.files_containing(home, DEMO_API_KEY), "the key leaked into DESKGUARD_HOME"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
        session.stop()
