"""Naming a file's columns by the API: loose matching of headers, --map, --ignore-column, a
results file's own columns as bookkeeping, how well a row of cells fits as the header, and the
messages for headers that are missing, doubled or unknown (with the closest API name)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from batchtool import api
from batchtool.errors import InputError, UnknownColumn, UnknownColumnsError
from batchtool.model import RESULTS_FILE_COLUMNS
from batchtool.reader.formats import (
    BOOKKEEPING_PREFIX,
    IGNORED_PREFIX,
    RawTable,
    cut,
    printable,
)

#: Unknown columns a message names; the others are counted.
_UNKNOWN_LISTED = 6
#: The result columns that mark a file as a batchtool results file: always written, and
#: never an input column's name (an input header that collides gets a prefix).
_RESULTS_FILE_MARKS = ("row", "status")
#: A results file's columns that are bookkeeping; its ``operation`` is the operation column.
_BOOKKEEPING = frozenset(RESULTS_FILE_COLUMNS) - {api.OPERATION_COLUMN}


def is_results_file(headers: Sequence[str | None]) -> bool:
    """Whether ``headers`` are those of a results file batchtool wrote."""
    return all(mark in headers for mark in _RESULTS_FILE_MARKS)


@dataclass(frozen=True)
class HeaderFit:
    """How a row of cells reads as a header: how many cells name an API column (directly or
    through --map), how many name nothing batchtool knows (bookkeeping and --ignore-column'd
    cells are neither)."""

    named: int
    unknown: int

    @property
    def complete(self) -> bool:
        """Every cell is a column batchtool knows, and at least one is an API column."""
        return self.named > 0 and self.unknown == 0


def header_fit(
    cells: Sequence[str | None], column_map: Mapping[str, str], ignore_columns: Sequence[str]
) -> HeaderFit:
    """How well ``cells`` fit as the header, for finding it below title rows.

    Unlike :func:`name_columns` this never raises: a --map to an unknown name is reported
    when the columns are named.
    """
    mapped = {api.normalise_column_name(h) for h in column_map}
    ignored = {api.normalise_column_name(h) for h in ignore_columns}
    results = is_results_file(cells)
    named = unknown = 0
    for cell in cells:
        if cell is None or not cell.strip():
            continue
        norm = api.normalise_column_name(cell)
        if norm in ignored or (results and cell in _BOOKKEEPING):
            continue
        if norm in mapped or norm in api.COLUMN_LOOKUP:
            named += 1
        else:
            unknown += 1
    return HeaderFit(named, unknown)


def name_columns(
    name: str,
    raw: RawTable,
    column_map: Mapping[str, str],
    ignore_columns: Sequence[str],
    *,
    header_hint: str | None = None,
    ignore_unknown: bool = False,
) -> tuple[list[str | None], dict[str, str]]:
    """Each column's frame name (None: an empty unnamed Excel column, dropped), and headers.

    A results file's own columns (``status``, ``error``, ...) are named ``result:status``, ...
    ``header_hint`` ends the unknown-columns message when no header cell names anything
    batchtool knows (the header may be further down). ``ignore_unknown``: a column that
    names nothing batchtool knows is ignored, as if named in ``ignore_columns``.
    """
    targets = _map_targets(name, column_map)
    norm_targets = {api.normalise_column_name(k): v for k, v in targets.items()}
    ignored = set(ignore_columns)
    norm_ignored = {api.normalise_column_name(c) for c in ignore_columns}

    seen_header: dict[str, int] = {}
    for i, header in enumerate(raw.headers):
        if header is None or not header.strip():
            if i in raw.empty_columns:
                continue
            raise InputError(
                f"{name}: column {raw.labels[i]} has no header — give it one, or delete the column"
            )
        if header in seen_header:
            first = raw.labels[seen_header[header]]
            raise InputError(
                f"{name}: the header '{printable(header)}' appears twice (columns {first} and "
                f"{raw.labels[i]}) — rename or delete one"
            )
        seen_header[header] = i

    names: list[str | None] = []
    headers: dict[str, str] = {}
    owner: dict[str, str] = {}
    unknown: list[str] = []
    results = is_results_file(raw.headers)
    for header in raw.headers:
        if header is None or not header.strip():
            names.append(None)
            continue
        norm = api.normalise_column_name(header)
        mapped = targets.get(header) or norm_targets.get(norm)
        if header in ignored or norm in norm_ignored:
            if mapped is not None:
                raise InputError(
                    f"{name}: column '{printable(header)}' is both mapped with --map and skipped "
                    "with --ignore-column — keep one of the two"
                )
            col = IGNORED_PREFIX + header
        elif mapped is not None:
            col = mapped
        elif norm in api.COLUMN_LOOKUP:
            col = api.COLUMN_LOOKUP[norm]
        elif results and header in _BOOKKEEPING:
            col = BOOKKEEPING_PREFIX + header
        elif ignore_unknown:
            col = IGNORED_PREFIX + header
        else:
            unknown.append(header)
            names.append(None)
            continue
        if col in owner:
            raise InputError(
                f"{name}: columns '{printable(owner[col])}' and '{printable(header)}' both mean "
                f"'{col}' — delete or rename one"
            )
        owner[col] = header
        headers[col] = header
        names.append(col)
    if unknown:
        message = _unknown_column(name, unknown, _header_place(raw))
        if header_hint and not owner:
            message += f" — {header_hint}"
        raise UnknownColumnsError(
            message, [UnknownColumn(header, closest(cut(header))) for header in unknown]
        )
    return names, headers


def _header_place(raw: RawTable) -> str:
    if raw.header_row == 1:
        return ""
    where = "in row" if raw.sheet else "on line"
    return f" (header {where} {raw.header_row})"


def _map_targets(name: str, column_map: Mapping[str, str]) -> dict[str, str]:
    targets: dict[str, str] = {}
    for header, target in column_map.items():
        api_name = api.COLUMN_LOOKUP.get(api.normalise_column_name(target))
        if api_name is None:
            raise InputError(
                f'{name}: --map "{printable(header)}={printable(target)}": '
                f"'{printable(target)}' is not a column batchtool knows — use one of: "
                f"{', '.join(api.KNOWN_COLUMNS)}"
            )
        targets[header] = api_name
    return targets


def _unknown_column(name: str, unknown: list[str], place: str) -> str:
    header = printable(unknown[0])
    guess = closest(header)
    hint = f" — did you mean '{guess}'? Rename it" if guess else " — rename it to an API name"
    target = guess or "NAME"
    more = ""
    if len(unknown) > 1:
        rest = ", ".join(f"'{printable(h)}'" for h in unknown[1:_UNKNOWN_LISTED])
        if len(unknown) > _UNKNOWN_LISTED:
            rest += f" and {len(unknown) - _UNKNOWN_LISTED:,} more"
        more = f" (also unknown: {rest})"
    return (
        f"{name}: unknown column '{header}'{place}{hint}, map it with --map \"{header}={target}\", "
        f"or skip it with --ignore-column {shell_word(header)}{more}"
    )


def closest(header: str) -> str | None:
    """The API name ``header`` most likely means, or None when none is close."""
    norm = api.normalise_column_name(header)
    if not norm:
        return None
    # "Email Address" or "Zip Code": a known name inside the header is the likeliest meaning.
    inside = [c for n, c in api.COLUMN_LOOKUP.items() if len(n) >= 3 and n in norm]
    if inside:
        return max(inside, key=len)
    close = difflib.get_close_matches(norm, list(api.COLUMN_LOOKUP), n=1, cutoff=0.6)
    return api.COLUMN_LOOKUP[close[0]] if close else None


def shell_word(word: str) -> str:
    """``word`` as one shell argument, quoted only when it has to be."""
    if re.fullmatch(r"[\w.:/+-]+", word):
        return word
    for special in ("\\", '"', "$", "`"):
        word = word.replace(special, "\\" + special)
    return f'"{word}"'
