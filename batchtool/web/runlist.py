"""The Runs list: runs that sent something or wait for approval, newest first, ``PAGE_SIZE``
a page, filtered by status, person, installation and file name; uploads that never got
further than Check (or that an approver rejected) are kept apart.

The filters are query parameters (``status``, ``person``, ``installation``, ``file``,
``page``), the same for the page and its JSON twin, and every link the list makes keeps
them. A run matches an installation when it sends to it, alone or with others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

from batchtool.web import runstore
from batchtool.web.runstore import RunMeta

T = TypeVar("T")

PAGE_SIZE: Final = 50
#: Uploads never sent shown in their group; the status filter lists them all, paged.
NOT_SENT_SHOWN: Final = 50
#: The status filter that lists the uploads never sent.
NOT_SENT: Final = "not-sent"
#: The runs the list itself shows; the others are kept apart.
LISTED: Final = frozenset({*runstore.SENT, runstore.WAITING})
STATUS_FILTERS: Final = {
    runstore.WAITING: runstore.STATUS_TEXT[runstore.WAITING],
    runstore.SENDING: runstore.STATUS_TEXT[runstore.SENDING],
    runstore.FINISHED: runstore.STATUS_TEXT[runstore.FINISHED],
    runstore.STOPPED: runstore.STATUS_TEXT[runstore.STOPPED],
    runstore.ABORTED: runstore.STATUS_TEXT[runstore.ABORTED],
    runstore.INTERRUPTED: runstore.STATUS_TEXT[runstore.INTERRUPTED],
    NOT_SENT: "Checked, not sent",
}


def people(meta: RunMeta) -> set[str]:
    """Everyone who checked, sent, resumed or stopped the run, asked for its approval or
    approved or rejected it."""
    found = {meta.checked_by}
    if meta.approval is not None:
        found.add(meta.approval.requested_by)
        if meta.approval.decided_by:
            found.add(meta.approval.decided_by)
    for send in meta.sends:
        found.add(send.by)
        if send.stopped_by:
            found.add(send.stopped_by)
    return found


@dataclass(frozen=True)
class Filters:
    status: str = ""
    person: str = ""
    file: str = ""
    installation: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        status = query.get("status", "").strip()
        return cls(
            status=status if status in STATUS_FILTERS else "",
            person=query.get("person", "").strip(),
            file=query.get("file", "").strip(),
            installation=query.get("installation", "").strip(),
        )

    def matches(self, meta: RunMeta) -> bool:
        if self.status == NOT_SENT:
            if meta.status in LISTED:
                return False
        elif self.status and meta.status != self.status:
            return False
        if self.person and self.person.casefold() not in {p.casefold() for p in people(meta)}:
            return False
        if self.installation and self.installation not in meta.names:
            return False
        return not self.file or self.file.casefold() in meta.file_name.casefold()

    def url(self, page: int = 1, **changes: str) -> str:
        """``/runs`` with these filters (and ``changes``), at ``page``."""
        values = {**self.as_dict(), **changes}
        query = {k: v for k, v in values.items() if v}
        if page > 1:
            query["page"] = str(page)
        return "/runs" + (f"?{urlencode(query)}" if query else "")

    def as_dict(self) -> dict[str, str]:
        return {
            "status": self.status,
            "person": self.person,
            "installation": self.installation,
            "file": self.file,
        }


def _page(text: str | None) -> int:
    try:
        return max(int(text or 1), 1)
    except ValueError:
        return 1


def paged(items: Sequence[T], page_text: str | None, size: int) -> tuple[Sequence[T], int, int]:
    """The page ``page_text`` asks for of ``items`` (the last one past the end): the items
    on it, its number, and how many pages there are."""
    pages = max(1, -(-len(items) // size))
    page = min(_page(page_text), pages)
    return items[(page - 1) * size : page * size], page, pages


def listing(
    runs: Sequence[RunMeta],
    query: Mapping[str, str],
    summary: Callable[[RunMeta], dict[str, Any]],
) -> dict[str, Any]:
    """The list's data for ``runs`` (newest first) and the request's ``query``."""
    filters = Filters.from_query(query)
    matching = [m for m in runs if filters.matches(m)]
    if filters.status == NOT_SENT:
        listed, apart = matching, []
    else:
        listed = [m for m in matching if m.status in LISTED]
        apart = [m for m in matching if m.status not in LISTED]
    shown, page, pages = paged(listed, query.get("page"), PAGE_SIZE)
    return {
        "runs": [summary(m) for m in shown],
        "total": len(listed),
        "page": page,
        "pages": pages,
        "first_shown": (page - 1) * PAGE_SIZE + 1 if shown else 0,
        "last_shown": (page - 1) * PAGE_SIZE + len(shown),
        "previous_url": filters.url(page - 1) if page > 1 else None,
        "next_url": filters.url(page + 1) if page < pages else None,
        "not_sent": [summary(m) for m in apart[:NOT_SENT_SHOWN]],
        "not_sent_count": len(apart),
        "not_sent_url": filters.url(status=NOT_SENT),
        "filters": filters.as_dict(),
        "filtered": filters != Filters(),
        "statuses": [{"value": k, "text": v} for k, v in STATUS_FILTERS.items()],
        "persons": sorted(_everyone(runs), key=str.casefold),
        "installations": sorted({n for m in runs for n in m.names}, key=str.casefold),
    }


def _everyone(runs: Iterable[RunMeta]) -> set[str]:
    found: set[str] = set()
    for meta in runs:
        found |= people(meta)
    return found
