"""A run's story, as its page tells it: who checked it, asked for its approval and approved
or rejected it, sent it (to which installations), stopped and resumed it and when, how each
send ended (in a run to several, which installations it was aborted for), when its customer
data was deleted, and how long sending took."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from batchtool.web import runstore, words
from batchtool.web.runstore import RunMeta


def events(meta: RunMeta) -> list[dict[str, Any]]:
    """``{"at", "what", "by"}`` in the order they happened (``at`` None: not known)."""
    told: list[dict[str, Any]] = [{"at": meta.created, "what": "Checked", "by": meta.checked_by}]
    if (asked := meta.approval) is not None:
        what = f"Approval requested: {asked.reason}"
        told.append({"at": asked.requested_at, "what": what, "by": asked.requested_by})
        if asked.decision == runstore.DECIDED_APPROVED:
            told.append({"at": asked.decided_at, "what": "Approved", "by": asked.decided_by})
        elif asked.decision == runstore.DECIDED_REJECTED:
            what = f"Rejected: {asked.rejection}"
            told.append({"at": asked.decided_at, "what": what, "by": asked.decided_by})
    for send in meta.sends:
        what = "Resumed" if send.resume else f"Sent to {meta.installation_text}"
        told.append({"at": send.at, "what": what, "by": send.by})
        if send.stopped_by:
            told.append({"at": send.stopped_at, "what": "Stopped", "by": send.stopped_by})
        if send.ended is None or (send.ended == runstore.STOPPED and send.stopped_by):
            continue  # still sending, or its stop is told already
        if send.ended == runstore.STOPPED:
            what = "Stopped when the server shut down"
        elif send.ended == runstore.ABORTED and meta.fanout and send.aborted:
            what = f"Aborted for {', '.join(send.aborted)}"
        else:
            what = runstore.STATUS_TEXT.get(send.ended, send.ended)
        told.append({"at": send.ended_at, "what": what, "by": None})
    if meta.purged_at:
        told.append(
            {
                "at": meta.purged_at,
                "what": "Customer data deleted (retention)",
                "by": meta.purged_by,
            }
        )
    return told


def sending_time(meta: RunMeta) -> str | None:
    """How long the run's sends took together, e.g. "4 min 10 s in 2 sends"; None before
    one has ended."""
    seconds, ended = 0.0, 0
    for send in meta.sends:
        if send.ended_at:
            took = datetime.fromisoformat(send.ended_at) - datetime.fromisoformat(send.at)
            seconds += took.total_seconds()
            ended += 1
    if not ended:
        return None
    total = words.duration(seconds)
    return total if len(meta.sends) == 1 else f"{total} in {len(meta.sends)} sends"
