"""Parsers of option values: ``auto`` or N requests in flight, ``HEADER=FIELD`` column maps,
an age in days or hours (``30d``, ``12h``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal, NamedTuple

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


class Age(NamedTuple):
    text: str  # as given, e.g. "30d"
    span: timedelta


class AgeType(click.ParamType[Age]):
    """``N`` days (``30d``) or hours (``12h``)."""

    name = "Nd|Nh"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Age:
        if isinstance(value, Age):
            return value
        found = re.fullmatch(r"\s*(\d+)\s*([dh])\s*", str(value).lower())
        if found is None:
            self.fail(f"{value!r} is not an age — give days or hours, e.g. 30d or 12h", param, ctx)
        number, unit = int(found.group(1)), found.group(2)
        span = timedelta(days=number) if unit == "d" else timedelta(hours=number)
        return Age(f"{number}{unit}", span)
