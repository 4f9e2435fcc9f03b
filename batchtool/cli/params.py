"""Parsers of option values: ``auto`` or N requests in flight, ``HEADER=FIELD`` column maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import click

from batchtool.dispatch import AUTO

#: The most requests in flight an option may ask for.
MAX_CONCURRENCY = 1024


class Concurrency(click.ParamType[int | Literal["auto"]]):
    """``auto`` or a whole number of requests in flight."""

    name = "auto|N"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | Literal["auto"]:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if text.lower() == AUTO:
                return AUTO
            try:
                number = int(text)
            except ValueError:
                self.fail(f"{value!r} is neither auto nor a whole number, e.g. 8", param, ctx)
        if not 1 <= number <= MAX_CONCURRENCY:
            self.fail(f"{number} is not auto or a number from 1 to {MAX_CONCURRENCY}", param, ctx)
        return number


def parse_map(values: Sequence[str]) -> dict[str, str]:
    """``--map`` values, ``HEADER=FIELD`` each, as a mapping; ``click.BadParameter`` if not."""
    mapping: dict[str, str] = {}
    for item in values:
        header, sep, target = item.rpartition("=")
        if not sep or not header.strip() or not target.strip():
            raise click.BadParameter(
                f"'{item}' is not HEADER=FIELD, e.g. --map \"E-mail address=email\"",
                param_hint="--map",
            )
        mapping[header.strip()] = target.strip()
    return mapping
