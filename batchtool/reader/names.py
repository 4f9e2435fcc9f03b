"""Naming a file's columns by the API: loose matching of headers, --map, --ignore-column, and
the messages for headers that are missing, doubled or unknown (with the closest API name)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

from batchtool import api
from batchtool.errors import InputError, UnknownColumn, UnknownColumnsError
from batchtool.reader.formats import IGNORED_PREFIX, RawTable


def name_columns(
    name: str,
    raw: RawTable,
    column_map: Mapping[str, str],
    ignore_columns: Sequence[str],
) -> tuple[list[str | None], dict[str, str]]:
    """Each column's frame name (None: an empty unnamed Excel column, dropped), and headers."""
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
                f"{name}: the header '{header}' appears twice (columns {first} and "
                f"{raw.labels[i]}) — rename or delete one"
            )
        seen_header[header] = i

    names: list[str | None] = []
    headers: dict[str, str] = {}
    owner: dict[str, str] = {}
    unknown: list[str] = []
    for header in raw.headers:
        if header is None or not header.strip():
            names.append(None)
            continue
        norm = api.normalise_column_name(header)
        mapped = targets.get(header) or norm_targets.get(norm)
        if header in ignored or norm in norm_ignored:
            if mapped is not None:
                raise InputError(
                    f"{name}: column '{header}' is both mapped with --map and skipped with "
                    "--ignore-column — keep one of the two"
                )
            col = IGNORED_PREFIX + header
        elif mapped is not None:
            col = mapped
        elif norm in api.COLUMN_LOOKUP:
            col = api.COLUMN_LOOKUP[norm]
        else:
            unknown.append(header)
            names.append(None)
            continue
        if col in owner:
            raise InputError(
                f"{name}: columns '{owner[col]}' and '{header}' both mean '{col}' — "
                "delete or rename one"
            )
        owner[col] = header
        headers[col] = header
        names.append(col)
    if unknown:
        raise UnknownColumnsError(
            _unknown_column(name, unknown),
            [UnknownColumn(header, closest(header)) for header in unknown],
        )
    return names, headers


def _map_targets(name: str, column_map: Mapping[str, str]) -> dict[str, str]:
    targets: dict[str, str] = {}
    for header, target in column_map.items():
        api_name = api.COLUMN_LOOKUP.get(api.normalise_column_name(target))
        if api_name is None:
            raise InputError(
                f"{name}: --map \"{header}={target}\": '{target}' is not a column batchtool "
                f"knows — use one of: {', '.join(api.KNOWN_COLUMNS)}"
            )
        targets[header] = api_name
    return targets


def _unknown_column(name: str, unknown: list[str]) -> str:
    header = unknown[0]
    guess = closest(header)
    hint = f" — did you mean '{guess}'? Rename it" if guess else " — rename it to an API name"
    target = guess or "NAME"
    more = ""
    if len(unknown) > 1:
        rest = ", ".join(f"'{h}'" for h in unknown[1:])
        more = f" (also unknown: {rest})"
    return (
        f"{name}: unknown column '{header}'{hint}, map it with --map \"{header}={target}\", "
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
