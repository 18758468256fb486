"""ELF dependency helpers for the Linux bundle (stdlib only; used by deskguard.spec and build.py).

* :func:`elf_needed` reads an ELF file's DT_NEEDED entries (the sonames it links against).
* :func:`reachable_libraries` walks those edges from the bundle's roots (Python extension modules, Qt
  plugins, the Python library), so libraries that only dropped plugins needed can be left out.
* :func:`external_sonames` lists what the bundle needs from the system (what a .deb must depend on).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
SHT_SYMTAB = 2
SHT_DYNAMIC = 6
DT_NEEDED = 1
DT_RPATH = 15
DT_RUNPATH = 29

#: Always loaded by the system itself (the C library and the dynamic loader); never bundled.
CORE_SYSTEM_SONAMES = re.compile(
    r"^(ld-linux[-\w.]*|linux-vdso\.so\.1|libc|libm|libdl|libpthread|librt|libutil|libresolv|libanl|libnsl)\.so(\.\d+)*$"
)
#: Plain shared libraries (prunable when nothing needs them), as opposed to Python extension modules
#: and plugins, which are loaded by name at run time and so are roots.
PLAIN_LIBRARY = re.compile(r"^lib[^/]*\.so(\.[\w]+)*$")


def is_elf(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def elf_info(path: str | os.PathLike[str]) -> dict | None:
    """``needed`` (DT_NEEDED sonames), ``runpath`` (DT_RUNPATH or DT_RPATH, or None) and ``symtab``
    (whether the file still has its symbol table, i.e. is not stripped); None if not an ELF file."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] != ELF_MAGIC:
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
    info: dict = {"needed": [], "runpath": None, "symtab": False}
    if shoff == 0 or shnum == 0:
        return info
    # Section header fields: name, type, flags, addr, offset, size, link, info, addralign, entsize.
    sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] == SHT_SYMTAB:
            info["symtab"] = True
        if sh[1] != SHT_DYNAMIC:
            continue
        offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9] or struct.calcsize(dyn_fmt)
        strtab_off = sections[link][4]

        def string(val: int, strtab_off: int = strtab_off) -> str:
            start = strtab_off + val
            return data[start:data.index(b"\0", start)].decode()

        for pos in range(offset, offset + size, entsize):
            tag, val = struct.unpack_from(dyn_fmt, data, pos)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                info["needed"].append(string(val))
            elif tag in (DT_RPATH, DT_RUNPATH):
                info["runpath"] = string(val)
    return info


def elf_needed(path: str | os.PathLike[str]) -> list[str]:
    """The DT_NEEDED sonames of an ELF shared object or executable ([] for anything else)."""
    info = elf_info(path)
    return info["needed"] if info else []


def should_strip(dest: str, src: str | os.PathLike[str]) -> bool:
    """Worth stripping, and safe: an ELF file that still has its symbol table, is not in a wheel's
    ``*.libs`` folder and has no ``$ORIGIN`` RPATH/RUNPATH. Those mark auditwheel's patchelf-edited
    files (stripping them can corrupt them) and Qt's libraries (shipped stripped already); an absolute
    run path set by the linker (a pyenv-built libpython) is fine."""
    if any(part.endswith(".libs") for part in Path(dest).parts):
        return False
    try:
        info = elf_info(src)
    except OSError:
        return False
    return bool(info and info["symtab"] and "$ORIGIN" not in (info["runpath"] or ""))


def is_plain_library(dest: str) -> bool:
    """A shared library proper (``lib*.so*``) that nothing loads by name: not a plugin, not libpython."""
    parts = Path(dest).parts
    name = parts[-1]
    return bool(PLAIN_LIBRARY.match(name)) and "plugins" not in parts and not name.startswith("libpython")


def reachable_libraries(entries: Iterable[tuple[str, str]]) -> set[str]:
    """Basenames of the plain libraries reachable from the roots, for (dest, source path) entries."""
    entries = list(entries)
    needed = {}
    for dest, src in entries:
        needed.setdefault(os.path.basename(dest), elf_needed(src) if is_elf(src) else [])
    reachable: set[str] = set()
    stack = [os.path.basename(d) for d, _s in entries if not is_plain_library(d)]
    while stack:
        name = stack.pop()
        if name in reachable:
            continue
        reachable.add(name)
        stack.extend(n for n in needed.get(name, ()) if n in needed)
    return {name for name in reachable if name in needed}


def bundle_elves(bundle: Path) -> list[Path]:
    """Every ELF file in a built bundle (symlinks not followed)."""
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            found.append(path)
    return found


def external_sonames(bundle: Path, only_roots: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Sonames needed by the bundle's ELF files but not shipped in it: soname -> the files needing it.
    With ``only_roots`` (path fragments), only the dependency closure of matching files is considered."""
    elves = bundle_elves(bundle)
    shipped = {p.name for p in bundle.rglob("*") if p.is_file() or p.is_symlink()}
    needs = {p: elf_needed(p) for p in elves}
    by_name = {p.name: p for p in elves}
    if only_roots is not None:
        fragments = list(only_roots)
        todo = [p for p in elves if any(f in p.as_posix() for f in fragments)]
        chosen: set[Path] = set()
        while todo:
            p = todo.pop()
            if p in chosen:
                continue
            chosen.add(p)
            todo.extend(by_name[n] for n in needs[p] if n in by_name)
        needs = {p: needs[p] for p in chosen}
    external: dict[str, list[str]] = {}
    for path, sonames in needs.items():
        for soname in sonames:
            if soname not in shipped and not CORE_SYSTEM_SONAMES.match(soname):
                external.setdefault(soname, []).append(path.relative_to(bundle).as_posix())
    return dict(sorted(external.items()))
