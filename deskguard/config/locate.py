"""Where each key of ``config.toml`` is written: line numbers for validation errors.

tomlkit keeps comments and layout but not line numbers, so a validation error (a key the schema
refuses, a value out of range) would name the key but not where it is. This scanner walks the text
of a file that already parsed as TOML and records the line of every key path it meets, in the
``dotted_key`` spelling the errors use (``rules.cooldown_after_loss.tiers[1].loss``): table headers,
``[[arrays of tables]]``, dotted keys, inline tables, and the elements of (multi-line) arrays.

It is best effort by design: it never raises, and a key it cannot place falls back to the line of
its nearest enclosing key that it can (a missing key points at its table's header).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

Path = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}


class KeyLines:
    """``KeyLines(text).line_of("rules.daily_realized_loss.max_loss")`` → 12 (or None)."""

    def __init__(self, text: str, spell: Callable[[Path], str]) -> None:
        self._spell = spell
        self._lines: dict[str, int] = {}
        try:
            _Scanner(text, self._record).run()
        except Exception:  # noqa: BLE001 - best effort: what was found so far still helps
            pass

    def _record(self, path: Path, line: int) -> None:
        for end in range(1, len(path) + 1):
            self._lines.setdefault(self._spell(path[:end]), line)

    def line_of(self, key: str | None) -> int | None:
        """The line of ``key``, else of the longest enclosing key found (None when nothing is)."""
        if not key:
            return None
        if key in self._lines:
            return self._lines[key]
        best, best_len = None, -1
        for known, line in self._lines.items():
            if len(known) > best_len and key.startswith(known) and key[len(known)] in ".[":
                best, best_len = line, len(known)
        return best


class _Scanner:
    def __init__(self, text: str, record: Callable[[Path, int], None]) -> None:
        self.text = text
        self.n = len(text)
        self.record = record
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._array_tables: dict[Path, int] = {}  # [[a.b]] path -> how many seen so far

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    # ----- statements ----------------------------------------------------------------------

    def run(self) -> None:
        pos = 0
        table: Path = ()
        while pos < self.n:
            pos = self.skip_blank(pos, newlines=True)
            if pos >= self.n:
                break
            c = self.text[pos]
            if c == "[":
                pos, table = self.header(pos)
            elif c in _BARE or c in "\"'":
                pos = self.key_value(pos, table)
            pos = self.to_line_end(pos)

    def header(self, pos: int) -> tuple[int, Path]:
        line = self.line(pos)
        double = self.text.startswith("[[", pos)
        parts, pos = self.key(pos + (2 if double else 1))
        path = self.through_array_tables(tuple(parts))
        if double:
            index = self._array_tables.get(path, 0)
            self._array_tables[path] = index + 1
            self.record(path, line)
            path = (*path, index)
        self.record(path, line)
        return pos, path

    def through_array_tables(self, parts: Path) -> Path:
        """``[a.b.c]`` after ``[[a.b]]`` means the last ``a.b`` element's ``c``."""
        out: list[str | int] = []
        for part in parts:
            if out and tuple(out) in self._array_tables:
                out.append(self._array_tables[tuple(out)] - 1)
            out.append(part)
        return tuple(out)

    def key_value(self, pos: int, table: Path) -> int:
        line = self.line(pos)
        parts, pos = self.key(pos)
        path = (*table, *parts)
        self.record(path, line)
        pos = self.skip_blank(pos)
        if pos < self.n and self.text[pos] == "=":
            pos = self.value(self.skip_blank(pos + 1), path)
        return pos

    # ----- keys and values -------------------------------------------------------------------

    def key(self, pos: int) -> tuple[list[str], int]:
        parts: list[str] = []
        while pos < self.n:
            pos = self.skip_blank(pos)
            if pos >= self.n:
                break
            c = self.text[pos]
            if c == '"':
                part, pos = self.basic_string(pos)
            elif c == "'":
                end = self.text.find("'", pos + 1)
                end = self.n if end < 0 else end
                part, pos = self.text[pos + 1:end], end + 1
            else:
                start = pos
                while pos < self.n and self.text[pos] in _BARE:
                    pos += 1
                if pos == start:
                    break
                part = self.text[start:pos]
            parts.append(part)
            pos = self.skip_blank(pos)
            if pos < self.n and self.text[pos] == ".":
                pos += 1
                continue
            break
        return parts, pos

    def value(self, pos: int, path: Path) -> int:
        if pos >= self.n:
            return pos
        c = self.text[pos]
        if c in "\"'":
            return self.string(pos)
        if c == "[":
            return self.array(pos + 1, path)
        if c == "{":
            return self.inline_table(pos + 1, path)
        while pos < self.n and self.text[pos] not in ",]}\n#":
            pos += 1
        return pos

    def array(self, pos: int, path: Path) -> int:
        index = 0
        while pos < self.n:
            pos = self.skip_blank(pos, newlines=True)
            if pos >= self.n or self.text[pos] == "]":
                return pos + 1
            if self.text[pos] == ",":
                pos += 1
                continue
            element = (*path, index)
            self.record(element, self.line(pos))
            before = pos
            pos = self.value(pos, element)
            index += 1
            if pos == before:
                pos += 1  # never stall on something unexpected
        return pos

    def inline_table(self, pos: int, path: Path) -> int:
        while pos < self.n:
            pos = self.skip_blank(pos, newlines=True)
            if pos >= self.n or self.text[pos] == "}":
                return pos + 1
            if self.text[pos] == ",":
                pos += 1
                continue
            before = pos
            pos = self.key_value(pos, path)
            if pos == before:
                pos += 1
        return pos

    def string(self, pos: int) -> int:
        quote = self.text[pos]
        if self.text.startswith(quote * 3, pos):
            end = pos + 3
            while True:
                end = self.text.find(quote * 3, end)
                if end < 0:
                    return self.n
                if quote == '"' and _escaped(self.text, end):
                    end += 1
                    continue
                end += 3
                while end < self.n and self.text[end] == quote:  # up to two quotes may close it
                    end += 1
                return end
        if quote == "'":
            end = self.text.find("'", pos + 1)
            return self.n if end < 0 else end + 1
        return self.basic_string(pos)[1]

    def basic_string(self, pos: int) -> tuple[str, int]:
        out: list[str] = []
        pos += 1
        while pos < self.n:
            c = self.text[pos]
            if c == '"':
                return "".join(out), pos + 1
            if c == "\\" and pos + 1 < self.n:
                e = self.text[pos + 1]
                if e in _SIMPLE_ESCAPES:
                    out.append(_SIMPLE_ESCAPES[e])
                    pos += 2
                    continue
                width = {"u": 4, "U": 8}.get(e)
                if width is not None:
                    try:
                        out.append(chr(int(self.text[pos + 2:pos + 2 + width], 16)))
                    except ValueError:
                        pass
                    pos += 2 + width
                    continue
            if c == "\n":
                break
            out.append(c)
            pos += 1
        return "".join(out), pos

    # ----- blanks ----------------------------------------------------------------------------

    def skip_blank(self, pos: int, newlines: bool = False) -> int:
        while pos < self.n:
            c = self.text[pos]
            if c in " \t\r" or (newlines and c == "\n"):
                pos += 1
            elif c == "#" and newlines:
                end = self.text.find("\n", pos)
                pos = self.n if end < 0 else end
            else:
                break
        return pos

    def to_line_end(self, pos: int) -> int:
        end = self.text.find("\n", pos)
        return self.n if end < 0 else end + 1


def _escaped(text: str, pos: int) -> bool:
    backslashes = 0
    while pos - backslashes - 1 >= 0 and text[pos - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1
