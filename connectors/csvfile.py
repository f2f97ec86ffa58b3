"""The one CSV reader of the file connectors (CRM, ESP, Google Ads conversions, lead forms).

:func:`open_csv` opens an export with the configured encoding (none configured: UTF-16 when
the file starts with a UTF-16 byte-order mark, else UTF-8 with or without one), takes the
configured delimiter or sniffs it from the first line, and reads records with the line each
one starts on. What cannot be read (a missing file, an unknown encoding, bytes the encoding
cannot decode, malformed CSV) raises a :class:`ConnectorError` naming the file, the line and
the encoding it was read with, and the fix. :func:`in_batches` turns the rows into the
batches of results that ``Connector.parse_file`` yields; :func:`json_rows` reads the same
table posted as a JSON array of row objects.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from connectors.base import ConnectorError, ParseResult, Rejection, load_json

DEFAULT_ENCODING = "utf-8-sig"
#: candidate delimiters, in order of preference on a tie
DELIMITERS: tuple[str, ...] = (",", ";", "\t")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SCAN_CHUNK = 1 << 16

T = TypeVar("T")


def sniff_delimiter(line: str) -> str:
    """The candidate delimiter that splits the header line most often (ties: comma)."""
    counts = {d: len(next(csv.reader([line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


@dataclass(frozen=True)
class CsvRow:
    """A record of a CSV file: ``line`` is the 1-based line it starts on."""

    line: int
    cells: list[str]


class CsvFile:
    """An open CSV file. :meth:`next_record` reads the header (or a preamble line) as it is;
    iterating yields the records after it that hold a value (blank ones are skipped)."""

    def __init__(
        self, path: Path, handle: IO[str], *, encoding: str, delimiter: str | None
    ) -> None:
        self.path = path
        self.encoding = encoding
        #: the file's modification time: the event time of rows that carry none
        self.modified_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if delimiter is None:
            with self._reading(line=1):
                first = handle.readline()
            handle.seek(0)
            delimiter = sniff_delimiter(first)
        self.delimiter = delimiter
        self._reader = csv.reader(handle, delimiter=delimiter)
        self._line = 0  # the last physical line read

    def next_record(self) -> list[str] | None:
        """The next record (blank included), or None at the end of the file."""
        row = self._read()
        return None if row is None else row.cells

    def __iter__(self) -> Iterator[CsvRow]:
        while (row := self._read()) is not None:
            if any(cell.strip() for cell in row.cells):
                yield row

    def _read(self) -> CsvRow | None:
        start = self._line + 1
        with self._reading(line=start):
            cells = next(self._reader, None)
        self._line = self._reader.line_num
        return None if cells is None else CsvRow(start, cells)

    @contextmanager
    def _reading(self, *, line: int) -> Iterator[None]:
        try:
            yield
        except UnicodeDecodeError as err:
            at = undecodable_line(self.path, self.encoding) or line
            raise ConnectorError(
                f"{self.path.name} is not {self.encoding} text ({err.reason} at line {at}); "
                "set config encoding, e.g. cp1251"
            ) from err
        except csv.Error as err:
            raise ConnectorError(
                f"{self.path.name}: malformed CSV at line {self._reader.line_num or line}: {err}"
            ) from err


@contextmanager
def open_csv(path: Path, *, encoding: object = None, delimiter: object = None) -> Iterator[CsvFile]:
    """``path`` opened as CSV; ``encoding`` and ``delimiter`` as configured (empty: the
    defaults described in the module docstring)."""
    used = str(encoding) if encoding else DEFAULT_ENCODING
    try:
        if not encoding:
            with path.open("rb") as raw:
                used = "utf-16" if raw.read(2) in _UTF16_BOMS else DEFAULT_ENCODING
        handle = path.open(encoding=used, newline="")
    except OSError as err:
        raise ConnectorError(f"cannot read {path}: {err.strerror or err}") from err
    except LookupError as err:
        raise ConnectorError(
            f"{path.name}: unknown encoding {used!r}; set config encoding, e.g. cp1251"
        ) from err
    with handle:
        try:
            csv_file = CsvFile(
                path, handle, encoding=used, delimiter=str(delimiter) if delimiter else None
            )
        except OSError as err:
            raise ConnectorError(f"cannot read {path}: {err.strerror or err}") from err
        yield csv_file


def undecodable_line(path: Path, encoding: str) -> int | None:
    """The 1-based line holding the first bytes ``encoding`` cannot decode; None when it all
    decodes. (A text stream decodes ahead in chunks, so its position is no guide.)"""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_CHUNK):
            state = decoder.getstate()
            try:
                line += decoder.decode(chunk).count("\n")
                continue
            except UnicodeDecodeError:
                decoder.setstate(state)
            for byte in chunk:  # the bad chunk again, a byte at a time, to find the line
                try:
                    line += decoder.decode(bytes((byte,))).count("\n")
                except UnicodeDecodeError:
                    return line
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return line
    return None


def in_batches(
    rows: Iterable[T], add: Callable[[ParseResult, T], None], *, batch_size: int
) -> Iterator[ParseResult]:
    """Feed each row to ``add`` and yield the results every ``batch_size`` events and
    rejections (then what is left, if anything), so a large file streams."""
    result = ParseResult()
    for row in rows:
        add(result, row)
        if len(result.events) + len(result.rejected) >= batch_size:
            yield result
            result = ParseResult()
    if result.events or result.rejected:
        yield result


# --------------------------------------------------------------------------- as JSON

#: the rejection of an item of a JSON array of rows that is not an object
NOT_AN_OBJECT = "a row must be a JSON object"


def json_rows(body: bytes, *, error: str) -> tuple[list[str], list[Any]]:
    """The payload form of a CSV file, a JSON array of row objects (header -> value): the
    headers (every key, in order of appearance) and the items. Not an array: ``error``."""
    data = load_json(body)  # bad or too deeply nested JSON -> ConnectorError
    if not isinstance(data, list):
        raise ConnectorError(error)
    headers: list[str] = []
    for item in data:
        if isinstance(item, dict):
            headers.extend(str(k) for k in item if str(k) not in headers)
    return headers, data


def object_rows(items: list[Any], result: ParseResult) -> Iterator[tuple[int, dict[Any, Any]]]:
    """(index, item) for the items that are objects; the others are rejected into ``result``."""
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item
        else:
            result.rejected.append(Rejection(index, NOT_AN_OBJECT, item))
