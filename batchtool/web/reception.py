"""An upload on its way in (``Reception``): the folder its bytes go to, made at its first
byte, removed if it never becomes a run; and the installations it is for (``targets``: one,
or several, in the order New batch lists them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from batchtool.errors import UsageError
from batchtool.urls import masked
from batchtool.web import runstore, shown
from batchtool.web.installations import Installations
from batchtool.web.runerror import RunError
from batchtool.web.runstore import RunStore, Target


class Reception:
    """An upload on its way in: its run folder exists from its first byte, its run from its
    last (``RunManager.upload``); ``discard`` removes a folder that never became a run."""

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.run_id: str | None = None
        self.file_name = ""
        self.extension = ""
        self.kept = False

    def target(self, uploaded_name: str | None) -> Path:
        """Where the upload's bytes go; RunError (before any is read) for a kind of file
        batchtool does not read."""
        name = runstore.display_name(uploaded_name)
        extension = runstore.input_extension(name)
        if extension is None:
            raise RunError(
                f"{name}: batchtool reads files ending in {runstore.known_extensions()} — "
                "save the spreadsheet as one of these"
            )
        self.run_id = self._store.new_folder()
        self.file_name, self.extension = name, extension
        return self._store.folder(self.run_id) / f"input{extension}"

    def discard(self) -> None:
        if self.run_id is not None and not self.kept:
            self._store.remove_folder(self.run_id)


def targets(
    names: Sequence[str], installations: Installations, telling: shown.Telling
) -> list[Target]:
    """The installations ``names`` chooses (the boxes ticked), in the order New batch lists
    them; RunError for none, or one not offered."""
    try:
        offered = installations.all()
    except UsageError as exc:
        raise RunError(telling.say(str(exc))) from None
    chosen = set(names)
    if not chosen:
        raise RunError("Choose an installation to send to: one, or several.")
    if chosen - {i.name for i in offered}:
        raise RunError("Choose installations from the list.")
    return [
        # Its base URL is shown on pages and kept: masked, never a secret.
        Target(i.name, masked(i.base_url), i.shown)
        for i in offered
        if i.name in chosen
    ]
