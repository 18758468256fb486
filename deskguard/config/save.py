"""Writing ``config.toml`` without losing what the user wrote.

Saving updates the user's own document in place with tomlkit: a value that did not change keeps its
spelling (``"300s"`` stays ``"300s"``), comments and layout stay, a key left out of the file is
added only when its new value differs from the default it stood for, and a new file starts from the
commented default text. The write is atomic (temp file, fsync, rename) and the file is private to
the user, since it names accounts and the gateway.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import InlineTable, Table

from .defaults import default_config_text, toml_value
from .load import parse_document, read_text
from .model import DeskGuardConfig, config_from_data
from .paths import config_path
from .rules_schema import KNOWN_KEYS

FILE_MODE = 0o600
DIR_MODE = 0o700

_TableLike = Table | InlineTable | Container


def dumps_config(config: DeskGuardConfig, original: str | None = None, path: str | Path | None = "config.toml") -> str:
    """The text of ``config`` as a file: ``original`` updated in place, or the commented defaults
    updated when there is no original. Raises ConfigError when ``original`` itself is not valid,
    rather than guess what a broken file meant."""
    doc = parse_document(original if original is not None else default_config_text(), path)
    before = config_from_data(doc.unwrap(), path)
    _merge(doc, before.to_data(), config.to_data(), "")
    text = tomlkit.dumps(doc)
    # The merge must never change the meaning of the file; check before anything reaches the disk.
    if config_from_data(parse_document(text, path).unwrap(), path) != config:
        raise RuntimeError("config merge did not reproduce the config; nothing was written")
    return text


def save_config(config: DeskGuardConfig, path: str | Path | None = None) -> Path:
    """Write ``config`` to ``path`` (default: the user's config.toml), keeping the existing file's
    comments and layout. Returns the path written (a symlink's target)."""
    target = Path(path) if path is not None else config_path()
    # Write through a symlink (a dotfiles repo) rather than replace the link with a file.
    target = Path(os.path.realpath(target))
    original = read_text(target) if target.exists() else None
    write_private_text(target, dumps_config(config, original, target))
    return target


def create_default_config(path: str | Path | None = None) -> Path:
    """Write the commented default config.toml if there is none yet (first run); never overwrites."""
    target = Path(path) if path is not None else config_path()
    if not target.exists() and not target.is_symlink():
        write_private_text(target, default_config_text())
    return target


def write_private_text(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``: user-only file, user-only new directories."""
    make_private_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp already makes it 0600; said again so no platform differs
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents as 0700 (existing ones are left alone)."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, DIR_MODE)
        os.chmod(d, DIR_MODE)  # mkdir's mode is masked by the umask


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open directories, and does not need it.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _shape(path: str) -> str:
    """An account's tables are known by their shape, whatever the account is called
    (``accounts.50KTC-1.rules`` → ``accounts.*.rules``)."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] == "accounts":
        return ".".join(["accounts", "*", *parts[2:]])
    return path


def _is_struct(path: str) -> bool:
    """Whether a table has fixed keys whose absence means "default" (a section, a rule, a
    sub-setting, an account's table), as opposed to a map such as a rule's per-symbol limits."""
    return path == "accounts" or _shape(path) in KNOWN_KEYS


def _merge(container: _TableLike, before: dict[str, Any], after: dict[str, Any], path: str) -> None:
    """Make ``container`` (whose values mean ``before``) mean ``after``, touching only what changed."""
    for key, value in after.items():
        sub = f"{path}.{key}" if path else key
        if before.get(key) == value and (key in container or _is_struct(path)):
            continue  # unchanged, or absent and still its default: leave the user's text alone
        if key in container:
            item = container[key]
            # Recurse where there is layout worth keeping: a settings table, or a map written as a
            # full [table]; an inline map is simply rewritten.
            if isinstance(value, dict) and (
                isinstance(item, Table) or (isinstance(item, InlineTable) and _is_struct(sub))
            ):
                _merge(item, before.get(key) or {}, value, sub)
            else:
                container[key] = toml_value(value)
        elif isinstance(value, dict) and _is_struct(sub):
            table = _new_table(container, sub)
            _merge(table, before.get(key) or {}, value, sub)
            if len(table):
                container.add(key, table)
        else:
            container.add(key, toml_value(value))
    for key in [k for k in container if k not in after]:
        # A map entry that was removed, or an optional key that is now unset.
        del container[key]


def _new_table(parent: _TableLike, path: str) -> Table | InlineTable:
    if isinstance(parent, InlineTable):
        return tomlkit.inline_table()
    # [rules] itself only holds sub-tables: a super table writes no empty "[rules]" header; the
    # same for [accounts] and an account's [accounts."NAME".rules].
    return tomlkit.table(is_super_table=_shape(path) in ("rules", "accounts", "accounts.*.rules"))


__all__ = ["create_default_config", "dumps_config", "make_private_dirs", "save_config", "write_private_text"]
