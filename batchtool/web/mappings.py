"""Column choices remembered per installation: the next upload with the same unknown headers
finds them preselected instead of the guesses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from batchtool.web.files import make_private_dir, read_json, write_json


def _key(headers: Sequence[str]) -> str:
    return json.dumps(list(headers), ensure_ascii=False)


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

    def recall(self, installation: str, headers: Sequence[str]) -> dict[str, str] | None:
        found = self._all().get(installation, {}).get(_key(headers))
        return dict(found) if isinstance(found, dict) else None

    def remember(self, installation: str, choices: Mapping[str, str]) -> None:
        data = self._all()
        data.setdefault(installation, {})[_key(list(choices))] = dict(choices)
        make_private_dir(self.path.parent)
        write_json(self.path, data)
