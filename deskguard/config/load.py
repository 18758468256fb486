"""Reading ``config.toml``: a missing file means every default; anything wrong is a ConfigError."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

from .errors import ConfigError
from .locate import KeyLines
from .model import DeskGuardConfig, config_from_data, dotted_key
from .paths import config_path

_POSITION = re.compile(r"\s+at line \d+ col \d+\s*$")


def parse_document(text: str, path: str | Path | None = None) -> tomlkit.TOMLDocument:
    """The TOML document (comments and layout kept), or a ConfigError naming the line."""
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        problem = _POSITION.sub("", str(exc)).rstrip(". ")
        raise ConfigError(path, None, f"invalid TOML: {problem}", line=exc.line) from None
    except TOMLKitError as exc:
        # A key or table defined twice is reported without a position; find it ourselves.
        problem = str(exc).rstrip(". ")
        raise ConfigError(path, None, f"invalid TOML: {problem}", line=_repeated_line(text)) from None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _repeated_line(text: str) -> int | None:
    """The line of the first key or [table] defined twice (best effort: a line-based scan)."""
    seen: set[tuple[str, str]] = set()
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            opener, name = header.groups()
            name = name.replace(" ", "")
            if opener == "[[":
                table = f"{name}#{number}"  # each [[item]] is a table of its own
                continue
            if ("[", name) in seen:
                return number
            seen.add(("[", name))
            table = name
            continue
        key = _KEY.match(line)
        if key:
            name = key.group(1).replace(" ", "").replace('"', "").replace("'", "")
            if (table, name) in seen:
                return number
            seen.add((table, name))
    return None


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        # utf-8-sig: editors on Windows like to start files with a byte-order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(path, None, "is not UTF-8 text", line=line) from None


def loads_config(text: str, path: str | Path | None = "config.toml") -> DeskGuardConfig:
    """Validate the text of a config file (``path`` only names it in messages)."""
    data: dict[str, Any] = parse_document(text, path).unwrap()
    try:
        return config_from_data(data, path)
    except ConfigError as exc:
        raise _with_lines(exc, text) from None


def _with_lines(exc: ConfigError, text: str) -> ConfigError:
    """The same problems, each with the line its key is written on (file, line and key)."""
    lines = KeyLines(text, dotted_key)
    return ConfigError.collect(
        ConfigError(e.path, e.key, e.problem, e.line if e.line is not None else lines.line_of(e.key))
        for e in exc.errors
    )


def load_config(path: str | Path | None = None) -> DeskGuardConfig:
    """Load ``config.toml`` (the default path when None). A missing file gives the defaults.

    Raises :class:`ConfigError` carrying every problem found."""
    target = Path(path) if path is not None else config_path()
    if not target.exists() and not target.is_symlink():
        return DeskGuardConfig()
    return loads_config(read_text(target), target)
