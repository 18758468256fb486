"""Render DeskGuard's icons from the SVG masters: PNG sizes, a Windows ICO and a macOS ICNS.

    python resources/make_icons.py              # writes resources/icons/ (and syncs the app icon)
    python resources/make_icons.py --out DIR    # somewhere else (tests, build machines)
    python resources/make_icons.py --check      # exit 1 if the package's app.svg differs from the master

Sources:
* ``resources/deskguard.svg`` - the master application icon. The app itself loads its copy from package
  data, ``deskguard/ui/icons/app.svg``; this script keeps that copy identical to the master.
* ``deskguard/ui/icons/tray-<state>.svg`` - the tray icon of each guardian state (package data, the app
  renders them itself at run time); rendered here to PNG for the Linux icon theme and for documents.

Output (``resources/icons/`` by default):
* ``png/deskguard-<N>.png`` for N in 16, 22, 24, 32, 48, 64, 128, 256, 512 (freedesktop hicolor sizes),
* ``deskguard.ico``  (16, 20, 24, 32, 40, 48, 64, 256; PNG-compressed entries, Windows Vista and later),
* ``deskguard.icns`` (16…512 and their @2x, up to 1024; PNG entries, macOS 10.7 and later),
* ``tray/deskguard-tray-<state>-<N>.png`` for N in 16, 22, 24, 32, 48, 64.

Only PySide6 is used (QSvgRenderer renders, QImage encodes PNG); the ICO and ICNS containers are
written here by hand, so nothing else has to be installed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTER_SVG = ROOT / "resources" / "deskguard.svg"
PACKAGE_ICONS = ROOT / "deskguard" / "ui" / "icons"
DEFAULT_OUT = ROOT / "resources" / "icons"

APP_NAME = "deskguard"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
TRAY_STATES = ("ok", "warning", "enforcing", "locked", "not_guarding")
#: ICNS element types holding PNG data: (type, pixel size). ic10…ic14 are the @2x (Retina) variants.
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256), (b"ic09", 512),
    (b"ic11", 32), (b"ic12", 64), (b"ic13", 256), (b"ic14", 512), (b"ic10", 1024),
)


def _qt_app():
    """QSvgRenderer and QImage want a Gui application; offscreen unless one already exists."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication([sys.argv[0]])
    return app


def render_png(svg: bytes, size: int) -> bytes:
    """The SVG drawn into a transparent ``size`` x ``size`` ARGB image, encoded as PNG."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _qt_app()
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.convertToFormat(QImage.Format.Format_ARGB32).save(buffer, "PNG"):
        raise RuntimeError("PNG encoding failed")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding one PNG-compressed 32-bit image per size (the Vista+ layout)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))  # reserved, type 1 = icon, count
    offset = len(header) + 16 * len(sizes)
    entries, blobs = [], []
    for size in sizes:
        if not 1 <= size <= 256:
            raise ValueError(f"ICO sizes are 1..256, not {size}")
        blob = pngs[size]
        dim = 0 if size == 256 else size  # 0 means 256
        entries.append(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset))
        blobs.append(blob)
        offset += len(blob)
    return header + b"".join(entries) + b"".join(blobs)


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns with a PNG element per ICNS type (``pngs`` must hold every size in ICNS_TYPES)."""
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def read_ico_sizes(data: bytes) -> list[int]:
    """The sizes listed in an .ico directory (for checks)."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    if reserved != 0 or kind != 1:
        raise ValueError("not an .ico file")
    sizes = []
    for i in range(count):
        width, height, _c, _r, _planes, _bpp, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        if data[offset:offset + 8] != b"\x89PNG\r\n\x1a\n" or offset + length > len(data):
            raise ValueError(f"entry {i} is not a PNG inside the file")
        sizes.append(width or 256)
    return sizes


def read_icns_types(data: bytes) -> list[str]:
    """The element types of an .icns file, in order (for checks)."""
    if data[:4] != b"icns" or struct.unpack_from(">I", data, 4)[0] != len(data):
        raise ValueError("not an .icns file")
    kinds, pos = [], 8
    while pos < len(data):
        kind, length = data[pos:pos + 4], struct.unpack_from(">I", data, pos + 4)[0]
        if length < 8 or pos + length > len(data):
            raise ValueError(f"bad element at {pos}")
        kinds.append(kind.decode("ascii"))
        pos += length
    return kinds


def sync_package_icon(master: Path = MASTER_SVG, package_icons: Path = PACKAGE_ICONS) -> bool:
    """Copy the master SVG over the package's ``app.svg`` if they differ; True if it was changed."""
    target = package_icons / "app.svg"
    data = master.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return False
    target.write_bytes(data)
    return True


def build_icons(out: Path, master: Path = MASTER_SVG, package_icons: Path = PACKAGE_ICONS) -> list[Path]:
    """Render everything into ``out``; returns the files written."""
    svg = master.read_bytes()
    written: list[Path] = []

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    cache: dict[int, bytes] = {}

    def png(size: int) -> bytes:
        if size not in cache:
            cache[size] = render_png(svg, size)
        return cache[size]

    for size in PNG_SIZES:
        write(out / "png" / f"{APP_NAME}-{size}.png", png(size))
    write(out / f"{APP_NAME}.ico", ico_bytes({size: png(size) for size in ICO_SIZES}))
    write(out / f"{APP_NAME}.icns", icns_bytes({size: png(size) for _, size in ICNS_TYPES}))
    for state in TRAY_STATES:
        tray_svg = (package_icons / f"tray-{state}.svg").read_bytes()
        for size in TRAY_SIZES:
            write(out / "tray" / f"{APP_NAME}-tray-{state}-{size}.png", render_png(tray_svg, size))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true", help="only check that the package's app.svg is the master")
    args = parser.parse_args(argv)
    if args.check:
        same = (PACKAGE_ICONS / "app.svg").read_bytes() == MASTER_SVG.read_bytes()
        print("app.svg matches the master" if same else "deskguard/ui/icons/app.svg differs from resources/deskguard.svg")
        return 0 if same else 1
    if sync_package_icon():
        print("updated deskguard/ui/icons/app.svg from resources/deskguard.svg")
    files = build_icons(args.out)
    total = sum(f.stat().st_size for f in files)
    print(f"icons: {len(files)} files, {total / 1024:.0f} KiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
