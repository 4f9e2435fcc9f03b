"""Column choices remembered per installation: the next upload with the same unknown headers
finds them preselected instead of the guesses, and a header seen among other columns before
finds its latest choice (``habits``; never ``username`` or ``password``, see ``checking``).

Only what the mapping step offered is remembered (at most ``checking.COLUMNS_SHOWN``
headers, each of a column name's length), keyed by those headers and, when there were more
unknown columns than offered, how many there were.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from batchtool.web.files import make_private_dir, read_json, write_json


def _key(headers: Sequence[str], total: int) -> str:
    more = [total] if total > len(headers) else []
    return json.dumps([*headers, *more], ensure_ascii=False)


class ColumnMemory:
    """``{installation: {json list of headers: {header: API name, or "" to ignore}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _all(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            data = read_json(self.path)
        except ValueError:
            return {}  # a damaged memory only costs the preselection
        return data if isinstance(data, dict) else {}

    def recall(
        self, installation: str, headers: Sequence[str], total: int
    ) -> dict[str, str] | None:
        """The choices remembered for the offered ``headers`` of ``total`` unknown columns."""
        found = self._all().get(installation, {}).get(_key(headers, total))
        return dict(found) if isinstance(found, dict) else None

    def habits(self, installation: str) -> dict[str, str]:
        """Each header's latest remembered choice, whatever columns came with it."""
        latest: dict[str, str] = {}
        for choices in self._all().get(installation, {}).values():
            if isinstance(choices, dict):
                latest.update((h, c) for h, c in choices.items() if isinstance(c, str))
        return latest

    def remember(self, installation: str, choices: Mapping[str, str], total: int) -> None:
        data = self._all()
        sets = data.setdefault(installation, {})
        key = _key(list(choices), total)
        sets.pop(key, None)  # the latest choices come last, where ``habits`` finds them
        sets[key] = dict(choices)
        make_private_dir(self.path.parent)
        write_json(self.path, data)
