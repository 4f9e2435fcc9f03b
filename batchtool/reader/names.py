"""Naming a file's columns by the API: loose matching of headers (other languages' headers
included, see ``aliases``), --map, --ignore-column, a results file's own columns as
bookkeeping, how well a row of cells fits as the header, the messages for headers that are
missing, doubled or unknown (with the closest API name), and which API name an unknown header
surely means (``likely_column``: what the ops page may preselect)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
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
from batchtool.remedies import MapColumns

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
                    "with --ignore-column — keep one of the two",
                    problem=f"{name}: column '{printable(header)}' is both mapped to a field and "
                    "ignored — keep one of the two",
                    remedy=MapColumns(),
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
        named = {
            header: col
            for col, header in owner.items()
            if not col.startswith((IGNORED_PREFIX, BOOKKEEPING_PREFIX))
        }
        raise UnknownColumnsError(
            message,
            [UnknownColumn(header, closest(cut(header))) for header in unknown],
            named,
            header_unsure=header_hint is not None and not owner,
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
            tail = (
                f"'{printable(target)}' is not a column batchtool knows — use one of: "
                f"{', '.join(api.KNOWN_COLUMNS)}"
            )
            raise InputError(
                f'{name}: --map "{printable(header)}={printable(target)}": {tail}',
                problem=f"{name}: column '{printable(header)}' is mapped to {tail}",
                remedy=MapColumns(),
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


#: The API's own names as matching keys (other languages' headers are matched whole only).
_API_KEYS = {api.normalise_column_name(c): c for c in api.KNOWN_COLUMNS}
#: The keys a misspelt header is compared with: a short word of another language ("ort",
#: "nom") is as close to any short header, so only longer ones are.
_FUZZY_KEYS = {k: c for k, c in api.COLUMN_LOOKUP.items() if k in _API_KEYS or len(k) >= 5}


def closest(header: str) -> str | None:
    """The API name ``header`` most likely means, or None when none is close: a hint for a
    person, who decides (see ``likely_column`` for what may be chosen without one)."""
    norm = api.normalise_column_name(header)
    if not norm:
        return None
    if norm in api.SIGN_IN_HINTS:  # "Passwort": named, never read as it (see ``aliases``)
        return api.SIGN_IN_HINTS[norm]
    # "Email Address" or "Zip Code": a known name inside the header is the likeliest meaning.
    inside = [c for n, c in _API_KEYS.items() if len(n) >= 3 and n in norm]
    if inside:
        return max(inside, key=len)
    close = difflib.get_close_matches(norm, list(_FUZZY_KEYS), n=1, cutoff=0.6)
    return _FUZZY_KEYS[close[0]] if close else None


#: How close a misspelt header must be to a known one to be taken for it, and how far ahead
#: of the closest spelling of any other column ("fristname": firstname 0.89, lastname 0.71).
_LIKELY_RATIO = 0.8
_LIKELY_LEAD = 0.1


def likely_column(header: str, taken: Collection[str] = ()) -> str | None:
    """The API name an unknown ``header`` surely means, or None when it is not sure.

    Sure means one of: exactly one column is named by a whole word (or run of words) of the
    header ("E-mail address", "Vorname des Kunden"), or a misspelling that is close to one
    column's name and clearly closer than to any other's ("fristname"). Never a column in
    ``taken`` (another column of the file has it), and never ``username`` or ``password``:
    they change how a customer signs in, so only a person chooses them.
    """
    words = _words(header)
    named = {
        api.COLUMN_LOOKUP[key]
        for start in range(len(words))
        for end in range(start + 1, len(words) + 1)
        if (key := "".join(words[start:end])) in api.COLUMN_LOOKUP
    }
    if named:
        found = named.pop() if len(named) == 1 else None
    else:
        found = _misspelt(api.normalise_column_name(header))
    if found is None or found in taken or found in api.SIGN_IN_COLUMNS:
        return None
    return found


def _words(header: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", header.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [w for w in re.split(r"[^\w]+|_", plain) if w]


def _misspelt(norm: str) -> str | None:
    best: dict[str, float] = {}
    for key, column in _FUZZY_KEYS.items():
        ratio = difflib.SequenceMatcher(None, norm, key).ratio()
        best[column] = max(ratio, best.get(column, 0.0))
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    (first, ratio), (_, runner_up) = ranked[0], ranked[1]
    return first if ratio >= _LIKELY_RATIO and ratio - runner_up >= _LIKELY_LEAD else None


def shell_word(word: str) -> str:
    """``word`` as one shell argument, quoted only when it has to be."""
    if re.fullmatch(r"[\w.:/+-]+", word):
        return word
    for special in ("\\", '"', "$", "`"):
        word = word.replace(special, "\\" + special)
    return f'"{word}"'
