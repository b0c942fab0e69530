"""Reading an import file: CSV (delimiter sniffed, any text encoding, BOM, quoted newlines)
or JSON lines, as :class:`Rows` of :class:`Record` with their line numbers, and the file's
digest (what makes a re-import of the same file resumable)."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from signalyard.errors import ConfigError, InputError

Format = Literal["csv", "jsonl"]
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024


def detect_format(path: Path) -> Format:
    """By extension (``.jsonl``/``.ndjson``: JSON lines; ``.csv``/``.tsv``/``.txt``: CSV), else
    by the first character (``{``: JSON lines)."""
    suffix = path.suffix.lower()
    if suffix in _JSONL_SUFFIXES or suffix in _CSV_SUFFIXES:
        return "jsonl" if suffix in _JSONL_SUFFIXES else "csv"
    with open(path, "rb") as fh:
        start = fh.read(1024).lstrip(codecs.BOM_UTF8).lstrip()
    return "jsonl" if start.startswith(b"{") else "csv"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _text_encoding(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name  # a BOM is skipped, never a column name


def sniff_delimiter(path: Path, encoding: str) -> str:
    """The delimiter of a CSV file: csv.Sniffer on its first 64 KiB among ``, ; TAB |``,
    checked against the header line; else the one the header line holds most of; else ``,``."""
    with open(path, "rb") as fh:
        data = fh.read(_SNIFF_BYTES)
    text = data.decode(_text_encoding(encoding), errors="replace")
    if len(data) == _SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]
    first = text.split("\n", 1)[0]
    try:
        found = csv.Sniffer().sniff(text, delimiters=_DELIMITERS).delimiter
        if found in first:
            return found
    except csv.Error:
        pass
    counts = {d: first.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass(slots=True)
class Record:
    line: int
    values: list[str] | dict[str, Any] | None
    error: InputError | None = None


@dataclass(slots=True)
class Rows:
    """The records of a file, streamed, with the byte position for a progress bar."""

    raw: BinaryIO
    records: Iterator[Record]
    header: list[str] | None
    text: io.TextIOWrapper | None = None
    """Held: a TextIOWrapper closes its file when it is collected."""

    def position(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        (self.text or self.raw).close()


def _decode_error(path: Path, encoding: str) -> ConfigError:
    """Names the first line that does not decode (the reader decodes ahead of its rows)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 0
    with open(path, "rb") as fh:
        for data in fh:
            line += 1
            try:
                decoder.decode(data)
            except UnicodeDecodeError:
                break
    return ConfigError(
        f"{path.name}: line {line} is not valid {codecs.lookup(encoding).name} text:"
        " re-export the file as UTF-8 or pass --encoding"
    )


def _csv_rows(path: Path, encoding: str, delimiter: str | None) -> Rows:
    raw = open(path, "rb")  # noqa: SIM115 - closed by Rows.close
    text = io.TextIOWrapper(raw, encoding=_text_encoding(encoding), newline="")
    reader = csv.reader(text, delimiter=delimiter or sniff_delimiter(path, encoding))
    try:
        header = [name.strip() for name in next(reader, [])]
    except UnicodeDecodeError:
        raw.close()
        raise _decode_error(path, encoding) from None
    except csv.Error as error:
        raw.close()
        raise ConfigError(f"{path.name}: line 1: {error}") from None

    def records() -> Iterator[Record]:
        while True:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _decode_error(path, encoding) from None
            except csv.Error as error:
                raise ConfigError(f"{path.name}: line {line}: {error}") from None
            if values:  # a blank line is no record
                yield Record(line, values)

    return Rows(raw, records(), header, text)


def _jsonl_rows(path: Path) -> Rows:
    raw = open(path, "rb")  # noqa: SIM115 - closed by Rows.close

    def records() -> Iterator[Record]:
        for line, data in enumerate(raw, 1):
            if line == 1:
                data = data.removeprefix(codecs.BOM_UTF8)
            if not data.strip():
                continue
            try:
                value = orjson.loads(data)
            except orjson.JSONDecodeError:
                yield Record(line, None, InputError("", "is not valid JSON"))
                continue
            if not isinstance(value, dict):
                yield Record(line, None, InputError("", "must be a JSON object"))
            else:
                yield Record(line, value)

    return Rows(raw, records(), None)


def open_rows(
    path: Path, file_format: Format, *, encoding: str = "utf-8", delimiter: str | None = None
) -> Rows:
    if file_format == "jsonl":
        return _jsonl_rows(path)
    return _csv_rows(path, encoding, delimiter)
