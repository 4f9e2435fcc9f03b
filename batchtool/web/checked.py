"""What the pages show of a checked run's rows, kept beside the run and cached: its invalid
rows (from the plan file) and where each data row is in the uploaded file ("sheet row 5",
"line 7", from what the last check found). A purged run shows neither: they are customer
data, or would name rows that are gone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from batchtool.reader import Places
from batchtool.web import tables
from batchtool.web.runstore import RunMeta, RunStore


class CheckedRows:
    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._invalid: dict[str, list[tuple[int, str]]] = {}
        self._places: dict[str, Places] = {}

    async def checked(
        self, meta: RunMeta, invalid: list[tuple[int, str]], places: Places | None
    ) -> None:
        """Keep what a check of ``meta`` just found (``meta`` is saved by the caller)."""
        await asyncio.to_thread(self.store.save_places, meta, places)
        self._invalid[meta.id] = invalid
        self._places.pop(meta.id, None)

    async def invalid_rows(self, meta: RunMeta) -> list[tuple[int, str]]:
        if meta.purged_at:  # they quote the rows' values: customer data, deleted
            self._invalid.pop(meta.id, None)
            return []
        if meta.id not in self._invalid:
            rows: list[tuple[int, str]] = []
            if meta.plan and meta.plan["invalid"]:
                rows = await asyncio.to_thread(tables.invalid_rows, self.store.plan_path(meta))
            self._invalid[meta.id] = rows
        return self._invalid[meta.id]

    async def places(self, meta: RunMeta, rows: Sequence[int]) -> dict[int, str]:
        """Each of ``rows`` (data rows) -> where it is in the file ("sheet row 5", "line
        7"), as the run's last check found; empty when the file has no such places."""

        def look() -> dict[int, str]:
            places = self._places_of(meta)
            return dict(zip(rows, places.say(rows), strict=True)) if places else {}

        return await asyncio.to_thread(look) if rows else {}

    def _places_of(self, meta: RunMeta) -> Places | None:
        if meta.purged_at:
            return None
        if meta.id not in self._places:
            found = self.store.load_places(meta)
            if found is None:
                return None
            self._places[meta.id] = found
        return self._places[meta.id]
