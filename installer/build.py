"""Build DeskGuard's desktop packages with one command:

    uv run --group package python installer/build.py

Steps, each timed:
1. icons      resources/make_icons.py: PNG sizes, ICO, ICNS from resources/deskguard.svg
2. bundle     PyInstaller with installer/deskguard.spec -> dist/deskguard/ (one folder;
              dist/DeskGuard.app too on macOS)
3. check      dist/deskguard/deskguard --version, then --smoke offscreen N times (the median time
              from process start to the first paint, and to guarding, is printed)
4. package    Linux: dist/deskguard_<version>_<arch>.deb with dpkg-deb (Depends from dpkg-shlibdeps)
              Windows: dist/DeskGuard-Setup-<version>.exe with makensis (if installed)
              macOS: dist/DeskGuard-<version>.dmg with hdiutil
5. nsis       Linux, when makensis is installed: the Windows installer script compiles (placeholder)

On Debian and its derivatives the build first checks the Debian packages it needs
(installer/debian-build-deps.txt: dpkg-dev, binutils and the system libraries the bundle links
against) and names every missing one in one message, with the apt-get line that installs them.

Options: --runs N (smoke runs, default 5), --no-smoke, --no-package, --clean (PyInstaller cache),
--fast (Linux: zstd instead of xz for the .deb: ~15 s instead of minutes, ~20 % bigger),
--check-nsis (only step 5: compile installer/windows/deskguard.nsi against a placeholder bundle).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
RESOURCES = ROOT / "resources"
DIST = ROOT / "dist"
BUILD = ROOT / "build"
BUNDLE = DIST / "deskguard"
SPEC = INSTALLER / "deskguard.spec"
NSIS_SCRIPT = INSTALLER / "windows" / "deskguard.nsi"
DEBIAN_BUILD_DEPS = INSTALLER / "debian-build-deps.txt"

APP = "deskguard"
APP_DISPLAY = "DeskGuard"
METAINFO = "io.github.deskguard.DeskGuard.metainfo.xml"
MAINTAINER = "DeskGuard <deskguard@users.noreply.github.com>"
DESCRIPTION = """\
Desktop risk guardian for TopstepX futures traders
 DeskGuard watches every account in real time through the ProjectX Gateway and
 enforces your trading rules: it cancels orders, closes positions and locks the
 account until a cooldown ends or the trading day resets. A demo mode with a
 built-in simulator needs no account."""

sys.path.insert(0, str(INSTALLER))
import elfdeps  # noqa: E402

SMOKE_LINE = re.compile(r"smoke: first paint (?P<inapp>[0-9.]+) s, guarding (?P<guarding>[0-9.]+) s, painted=(?P<painted>\w+)"
                        r"(?:, first_paint_at=(?P<paint_at>[0-9.]+), guarding_at=(?P<guarding_at>[0-9.]+))?")

#: Files under dist/deskguard that belong to the Wayland platform plugin: their system libraries are
#: only Recommended (without them Qt falls back to X11/XWayland).
WAYLAND_PARTS = ("plugins/platforms/libqwayland", "plugins/wayland-", "libQt6WaylandClient")
#: Suggested: a Secret Service keyring daemon, so the API key can be stored (keyring backend).
SUGGESTS = "gnome-keyring | kwalletmanager | keepassxc"


def version() -> str:
    return re.search(r'__version__\s*=\s*"([^"]+)"', (ROOT / "deskguard" / "__init__.py").read_text()).group(1)


def human(n: float) -> str:
    """Binary units, as du -h and ls -lh print them."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def tree_size(path: Path) -> int:
    """Bytes on disk of a folder (like du -s: allocated blocks, symlinks not followed)."""
    total = 0
    for p in path.rglob("*"):
        st = p.lstat()
        total += getattr(st, "st_blocks", 0) * 512 if hasattr(st, "st_blocks") else st.st_size
    return total


class Steps:
    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []
        self.facts: list[tuple[str, str]] = []

    def run(self, name: str, fn, *args, **kwargs):
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = time.perf_counter() - started
        self.timings.append((name, elapsed))
        print(f"== {name}: {elapsed:.1f} s", flush=True)
        return result

    def fact(self, name: str, value: str) -> None:
        self.facts.append((name, value))
        print(f"   {name}: {value}", flush=True)

    def summary(self) -> None:
        print("\n== summary")
        for name, value in self.facts:
            print(f"   {name:<28} {value}")
        for name, elapsed in self.timings:
            print(f"   time {name:<23} {elapsed:6.1f} s")
        print(f"   time total                   {sum(t for _, t in self.timings):6.1f} s")


# --- before anything: the build machine's Debian packages ---------------------------------------------


def debian_build_packages(path: Path = DEBIAN_BUILD_DEPS) -> list[str]:
    """The Debian packages the Linux build needs (one per line; '#' starts a comment)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def missing_debian_packages(packages: list[str]) -> list[str]:
    """Those of ``packages`` dpkg does not have installed (all of them if dpkg-query is missing)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
                         capture_output=True, text=True)  # exit 1 when some are unknown: read the output anyway
    installed = {name for name, _, status in (line.partition(" ") for line in out.stdout.splitlines())
                 if status.startswith("ii")}
    return [p for p in packages if p not in installed]


def check_debian_packages() -> None:
    """Stop before building, naming every missing package at once, when this Debian-like machine lacks
    what the .deb build needs (the bundle's system libraries must be here for dpkg-shlibdeps)."""
    missing = missing_debian_packages(debian_build_packages())
    if missing:
        raise SystemExit(
            f"The .deb build needs {len(missing)} Debian package(s) this machine does not have: "
            f"{', '.join(missing)}.\nInstall them, then build again:\n"
            f"  sudo apt-get install --no-install-recommends {' '.join(missing)}\n"
            f"(the list: {DEBIAN_BUILD_DEPS.relative_to(ROOT)}; --no-package builds the bundle alone)")


# --- steps -------------------------------------------------------------------------------------------


def make_icons() -> None:
    sys.path.insert(0, str(RESOURCES))
    import make_icons

    if make_icons.main([]) != 0:
        raise SystemExit("icons: failed")


def pyinstaller(clean: bool) -> None:
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"), str(SPEC)]
    if clean:
        cmd.insert(3, "--clean")
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def executable(bundle: Path = BUNDLE) -> Path:
    return bundle / (f"{APP}.exe" if sys.platform == "win32" else APP)


def smoke_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROJECTX_", "PROJECT_X_"))}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    return env


def smoke_once(exe: Path | str, timeout: float = 90.0) -> dict[str, float]:
    """One ``--smoke`` run with a fresh DESKGUARD_HOME: seconds from process start to the first paint
    and to guarding (wall clock read here just before the process starts, and by the app)."""
    home = tempfile.mkdtemp(prefix="deskguard-smoke-")
    try:
        env = smoke_env() | {"DESKGUARD_HOME": home}
        started = time.time()
        proc = subprocess.run([str(exe), "--smoke"], env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        ended = time.time()
        match = SMOKE_LINE.search(proc.stdout or "")
        if proc.returncode == 0 and match is None and sys.platform in ("win32", "darwin") and not proc.stdout:
            # A windowed (no console) executable has no stdout on Windows: the exit code is the verdict.
            return {"exit": ended - started}
        if proc.returncode != 0 or match is None or match["painted"] != "True":
            raise SystemExit(f"smoke failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
        result = {"in_app_first_paint": float(match["inapp"]), "exit": ended - started}
        if match["paint_at"]:
            result["first_paint"] = float(match["paint_at"]) - started
            result["guarding"] = float(match["guarding_at"]) - started
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def check_bundle(steps: Steps, runs: int) -> None:
    exe = executable()
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, env=smoke_env())
    if out.returncode != 0 or version() not in out.stdout + out.stderr:
        raise SystemExit(f"--version failed (exit {out.returncode}): {out.stdout}{out.stderr}")
    steps.fact("--version", (out.stdout + out.stderr).strip())
    results = []
    for i in range(runs):
        r = smoke_once(exe)
        results.append(r)
        shown = ", ".join(f"{k} {v:.2f} s" for k, v in r.items())
        print(f"   smoke run {i + 1}/{runs}: {shown}", flush=True)
    for key, label in (("first_paint", "first paint (median)"), ("guarding", "guarding (median)"),
                       ("in_app_first_paint", "first paint in-app (median)"), ("exit", "smoke run (median)")):
        values = [r[key] for r in results if key in r]
        if values:
            steps.fact(label, f"{statistics.median(values):.2f} s over {len(values)} runs "
                              f"(min {min(values):.2f}, max {max(values):.2f})")


# --- Linux: the .deb -----------------------------------------------------------------------------------


def deb_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def shlib_depends(stage: Path, libdir: Path) -> dict[str, str]:
    """Depends/Recommends computed by dpkg-shlibdeps from the bundle's ELF files (their system
    libraries, with the minimum versions the Debian shlibs/symbols files require)."""
    elves = [p for p in elfdeps.bundle_elves(libdir)]
    wayland = [p for p in elves if any(part in p.as_posix() for part in WAYLAND_PARTS)]
    core = [p for p in elves if p not in wayland]
    search = sorted({p.parent for p in elves if elfdeps.PLAIN_LIBRARY.match(p.name)})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "debian").mkdir()
        (Path(tmp) / "debian" / "control").write_text(f"Source: {APP}\n\nPackage: {APP}\nArchitecture: any\n")
        cmd = (["dpkg-shlibdeps", "-O", "--warnings=0", "--ignore-missing-info"]
               + [f"-l{d}" for d in search] + ["-dDepends"] + [str(p) for p in core]
               + ["-dRecommends"] + [str(p) for p in wayland])
        out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    if out.returncode != 0:
        unknown = sorted(set(re.findall(r"cannot find library (\S+)", out.stderr)))
        hint = (f"\nThe bundle links {', '.join(unknown)}, which this machine does not have: install the Debian "
                f"package(s) providing them (apt-file search <library>) and add them to "
                f"{DEBIAN_BUILD_DEPS.relative_to(ROOT)}." if unknown else "")
        raise SystemExit(f"dpkg-shlibdeps failed:\n{out.stderr[-3000:]}{hint}")
    fields = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        fields[key.split(":", 1)[1]] = value.strip()
    return fields


def write_deb_tree(stage: Path) -> Path:
    """The package's files under ``stage`` (everything but DEBIAN/control); returns the bundle copy."""
    if stage.exists():
        shutil.rmtree(stage)
    libdir = stage / "usr" / "lib" / APP
    shutil.copytree(BUNDLE, libdir, symlinks=True)
    bindir = stage / "usr" / "bin"
    bindir.mkdir(parents=True)
    (bindir / APP).symlink_to(f"../lib/{APP}/{APP}")
    share = stage / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copy2(RESOURCES / f"{APP}.desktop", share / "applications" / f"{APP}.desktop")
    (share / "metainfo").mkdir(parents=True)
    shutil.copy2(RESOURCES / METAINFO, share / "metainfo" / METAINFO)
    icons = share / "icons" / "hicolor"
    for png in sorted((RESOURCES / "icons" / "png").glob(f"{APP}-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        target = icons / f"{size}x{size}" / "apps" / f"{APP}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    (icons / "scalable" / "apps").mkdir(parents=True)
    shutil.copy2(RESOURCES / f"{APP}.svg", icons / "scalable" / "apps" / f"{APP}.svg")
    # The tray states as themed status icons (deskguard-tray-ok ...), for desktops that look them up.
    for png in sorted((RESOURCES / "icons" / "tray").glob(f"{APP}-tray-*.png")):
        name, size = png.stem.rsplit("-", 1)
        target = icons / f"{size}x{size}" / "status" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    doc = share / "doc" / APP
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {APP_DISPLAY}\n\nFiles: *\nCopyright: {APP_DISPLAY}\nLicense: proprietary\n"
        " The bundled third-party components keep their own licences; see\n"
        f" /usr/lib/{APP}/_internal/*.dist-info.\n")
    # Debian permissions: directories 0755, files 0644, executables and shared objects 0755.
    for p in [stage, *stage.rglob("*")]:
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o755)
        else:
            p.chmod(0o755 if (p.stat().st_mode & 0o111 or elfdeps.is_elf(p)) else 0o644)
    return libdir


def build_deb(steps: Steps, fast: bool = False, out_dir: Path = DIST) -> Path:
    arch = deb_arch()
    ver = version()
    stage = BUILD / "deb" / f"{APP}_{ver}_{arch}"
    libdir = write_deb_tree(stage)
    (stage / "DEBIAN").mkdir(mode=0o755)  # before dpkg-shlibdeps: it finds the package root by it
    fields = shlib_depends(stage, libdir)
    depends = fields.get("Depends", "")
    recommends = fields.get("Recommends", "")
    installed_kb = (tree_size(stage) + 1023) // 1024
    control = [
        f"Package: {APP}",
        f"Version: {ver}",
        f"Architecture: {arch}",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {installed_kb}",
        f"Depends: {depends}",
    ]
    if recommends:
        control.append(f"Recommends: {recommends}")
    control += [f"Suggests: {SUGGESTS}", "Section: misc", "Priority: optional",
                f"Description: {DESCRIPTION}"]
    (stage / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
    steps.fact("deb Depends", depends)
    if recommends:
        steps.fact("deb Recommends", recommends)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{APP}_{ver}_{arch}.deb"
    out.unlink(missing_ok=True)
    # xz -6 (Debian's default): ~93 MB, 2-4 minutes on 2 cores. --fast: zstd -10, ~112 MB in ~15 s
    # (dpkg >= 1.21.18 reads zstd: Debian 12, Ubuntu 21.10 and later).
    compression = ["-Zzstd", "-z10"] if fast else ["-Zxz", "-z6"]
    subprocess.run(["dpkg-deb", "--root-owner-group", *compression, "--build", str(stage), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    info = subprocess.run(["dpkg-deb", "--info", str(out)], capture_output=True, text=True, check=True).stdout
    if f"Package: {APP}" not in info:
        raise SystemExit(f"dpkg-deb --info does not show the package:\n{info}")
    validate_desktop_files(stage)
    return out


def validate_desktop_files(stage: Path) -> None:
    """desktop-file-validate and appstreamcli, when installed (Debian desktop-file-utils, appstream)."""
    desktop = stage / "usr" / "share" / "applications" / f"{APP}.desktop"
    if shutil.which("desktop-file-validate"):
        out = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"desktop-file-validate: {out.stdout}{out.stderr}")
        print("   desktop-file-validate: ok", flush=True)
    if shutil.which("appstreamcli"):
        out = subprocess.run(["appstreamcli", "validate", "--no-net", str(stage / "usr" / "share" / "metainfo" / METAINFO)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"appstreamcli validate: {out.stdout}{out.stderr}")
        print("   appstreamcli validate: ok", flush=True)


# --- Windows and macOS ---------------------------------------------------------------------------------


def makensis() -> str | None:
    for name in ("makensis", "makensis.exe"):
        found = shutil.which(name)
        if found:
            return found
    # Windows' own spelling; names in its environment are case-insensitive.
    default = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)")) / "NSIS" / "makensis.exe"  # noqa: SIM112
    return str(default) if default.exists() else None


def nsis_define(flag: str) -> str:
    return ("/" if sys.platform == "win32" else "-") + flag


def run_makensis(dist_dir: Path, outfile: Path) -> None:
    tool = makensis()
    if tool is None:
        raise SystemExit("makensis not found (Debian: apt-get install nsis; Windows: https://nsis.sourceforge.io)")
    cmd = [tool, nsis_define("V2"), nsis_define("WX"), nsis_define(f"DVERSION={version()}"),
           nsis_define(f"DDIST_DIR={dist_dir}"), nsis_define(f"DOUTFILE={outfile}"),
           nsis_define(f"DICON={RESOURCES / 'icons' / 'deskguard.ico'}"), str(NSIS_SCRIPT)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0 or not outfile.exists():
        raise SystemExit(f"makensis failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")


def check_nsis(steps: Steps) -> None:
    """Compile the NSIS script against a placeholder bundle (an empty deskguard.exe and _internal)."""
    with tempfile.TemporaryDirectory() as tmp:
        placeholder = Path(tmp) / "deskguard"
        (placeholder / "_internal").mkdir(parents=True)
        (placeholder / "deskguard.exe").write_bytes(b"MZ placeholder")
        (placeholder / "_internal" / "base_library.zip").write_bytes(b"placeholder")
        outfile = Path(tmp) / f"DeskGuard-Setup-{version()}.exe"
        run_makensis(placeholder, outfile)
        steps.fact("nsis", f"{NSIS_SCRIPT.relative_to(ROOT)} compiles ({human(outfile.stat().st_size)} "
                           f"installer from a placeholder bundle)")


def build_windows_installer(steps: Steps) -> Path | None:
    if makensis() is None:
        print("   makensis not installed: skipping the installer (see installer/windows/README.md)")
        return None
    outfile = DIST / f"DeskGuard-Setup-{version()}.exe"
    run_makensis(BUNDLE, outfile)
    return outfile


def build_dmg(steps: Steps) -> Path:
    app = DIST / f"{APP_DISPLAY}.app"
    out = DIST / f"{APP_DISPLAY}-{version()}.dmg"
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / APP_DISPLAY
        staging.mkdir()
        subprocess.run(["ditto", str(app), str(staging / app.name)], check=True)
        (staging / "Applications").symlink_to("/Applications")
        subprocess.run(["hdiutil", "create", "-volname", APP_DISPLAY, "-srcfolder", str(staging),
                        "-fs", "HFS+", "-format", "UDZO", "-ov", str(out)], check=True)
    return out


# --- main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="--smoke runs for the start-up timing (default 5)")
    parser.add_argument("--no-smoke", action="store_true", help="skip --version/--smoke of the built bundle")
    parser.add_argument("--no-package", action="store_true", help="stop after the bundle (no .deb/.exe/.dmg)")
    parser.add_argument("--clean", action="store_true", help="clear PyInstaller's cache first")
    parser.add_argument("--fast", action="store_true",
                        help="Linux: compress the .deb with zstd -10 (~15 s, ~20%% bigger) instead of xz -6")
    parser.add_argument("--package-dir", type=Path, default=DIST,
                        help="where the .deb goes (default dist/)")
    parser.add_argument("--check-nsis", action="store_true",
                        help="only check that installer/windows/deskguard.nsi compiles (placeholder bundle)")
    args = parser.parse_args(argv)
    steps = Steps()
    print(f"DeskGuard {version()} on {platform.system()} {platform.machine()}, Python {platform.python_version()}")

    if args.check_nsis:
        steps.run("nsis", check_nsis, steps)
        steps.summary()
        return 0

    if sys.platform.startswith("linux") and not args.no_package and shutil.which("dpkg-query"):
        check_debian_packages()  # before the minutes of building: name everything missing at once
    steps.run("icons", make_icons)
    steps.run("bundle", pyinstaller, args.clean)
    steps.fact("bundle", f"{BUNDLE.relative_to(ROOT)}/ {human(tree_size(BUNDLE))} on disk")
    if not args.no_smoke:
        steps.run("check", check_bundle, steps, max(1, args.runs))
    if not args.no_package:
        if sys.platform.startswith("linux"):
            if not (shutil.which("dpkg-deb") and shutil.which("dpkg-shlibdeps")):
                raise SystemExit("dpkg-deb and dpkg-shlibdeps are needed for the .deb (Debian: dpkg-dev)")
            deb = steps.run("package", build_deb, steps, args.fast, args.package_dir.resolve())
            steps.fact("deb", f"{deb} {human(deb.stat().st_size)}")
            if makensis():
                steps.run("nsis", check_nsis, steps)
        elif sys.platform == "win32":
            setup = steps.run("package", build_windows_installer, steps)
            if setup:
                steps.fact("installer", f"{setup.relative_to(ROOT)} {human(setup.stat().st_size)}")
        elif sys.platform == "darwin":
            dmg = steps.run("package", build_dmg, steps)
            steps.fact("dmg", f"{dmg.relative_to(ROOT)} {human(dmg.stat().st_size)}")
    steps.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
