"""A run's events as JSON lines, for log pipelines and schedulers (``--log-format json``).

One JSON object per line, each with ``event`` and ``time`` (UTC, ISO 8601):

- ``start``: input, results, rows, rows to send, the run's options (never a secret);
- ``progress``: at the same cadence as the plain progress lines;
- ``note``: a message, ``level`` ``info`` or ``warning``;
- ``summary``: counts per status, rate, elapsed time, requests and retries, exit code,
  results path — the same record ``--summary-json`` writes (:func:`summary_record`);
- ``error``: a run that could not start (bad options or input), with its exit code.

A run to several installations adds ``installations`` to ``start`` (rows to send to each),
``progress`` (each one's progress) and ``summary`` (each one's counts, requests, retries,
exit code and why it was aborted); the other fields are totals. A run to one installation
writes exactly what it always wrote.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from batchtool import model
from batchtool.events import Event, RunFinished, RunNote, RunProgress, RunStarted
from batchtool.report import InstallationReport, RunReport

#: Notes that start with this are warnings (the run's report keeps notes as plain text).
WARNING_PREFIX = "warning: "


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: object) -> Any:
    """JSON-safe: paths as text, mappings and sequences recursively."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def retries(report: RunReport) -> int:
    """Requests beyond the first of each row this run sent (requests cut off count too)."""
    return report.retries


def summary_record(report: RunReport) -> dict[str, Any]:
    """The end of a run as one JSON-ready record: the ``summary`` event's fields."""
    counts = report.summary.counts
    done = counts.get(model.OK, 0) + counts.get(model.FAILED, 0) - report.resumed_ok
    if report.dry_run:
        done = report.summary.total
    elapsed = report.elapsed_s
    return {
        "input": str(report.input_path),
        "results": str(report.results_path),
        "dry_run": report.dry_run,
        "exit_code": report.exit_code,
        "rows": report.summary.total,
        "counts": dict(counts),
        "resumed_ok": report.resumed_ok,
        "requests_sent": report.requests_sent,
        "retries": retries(report),
        "elapsed_s": round(elapsed, 3),
        "rate": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "aborted": report.aborted,
        "interrupted": report.interrupted,
        "top_errors": [{"error": e, "rows": n} for e, n in report.summary.top_errors],
        **(
            {"installations": [_installation(i, report) for i in report.installations]}
            if report.fanout
            else {}
        ),
    }


def _installation(installation: InstallationReport, report: RunReport) -> dict[str, Any]:
    return {
        "installation": installation.name,
        "exit_code": installation.exit_code(interrupted=report.interrupted),
        "rows": installation.summary.total,
        "counts": dict(installation.summary.counts),
        "resumed_ok": installation.resumed_ok,
        "requests_sent": installation.requests_sent,
        "retries": installation.retries,
        "aborted": installation.aborted,
    }


def _progress(event: RunProgress) -> dict[str, Any]:
    percent = event.done * 100 // event.total if event.total else 100
    record: dict[str, Any] = {
        "done": event.done,
        "total": event.total,
        "percent": percent,
        "counts": dict(event.counts),
        "rate": round(event.rate, 1),
        "elapsed_s": round(event.elapsed_s, 3),
        "concurrency": event.concurrency,
    }
    if event.installation is not None:
        record = {"installation": event.installation, **record}
    if event.installations:
        record["installations"] = [_progress(part) for part in event.installations]
    if event.aborted:
        record["aborted"] = event.aborted
    return record


def error_record(message: str, exit_code: int) -> dict[str, Any]:
    """A run that stopped before it could start, as the ``error`` event's fields."""
    return {"message": message, "exit_code": exit_code}


class JsonLog:
    """An event sink writing one JSON object per line to ``stream`` (stderr by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = sys.stderr if stream is None else stream

    def write(self, event: str, fields: Mapping[str, object]) -> None:
        line = json.dumps({"event": event, "time": _now(), **_plain(fields)}, ensure_ascii=False)
        self._stream.write(line + "\n")
        self._stream.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunProgress):
            self.write("progress", _progress(event))
        elif isinstance(event, RunNote):
            self.note(event.text, event.level)
        elif isinstance(event, RunStarted):
            record: dict[str, object] = {
                "input": event.input_path,
                "results": event.results_path,
                "dry_run": event.dry_run,
                "rows": event.rows,
                "to_send": event.to_send,
                "options": event.options,
            }
            if event.installations:
                record["installations"] = [
                    {"installation": name, "to_send": n} for name, n in event.installations.items()
                ]
            self.write("start", record)
        elif isinstance(event, RunFinished):
            self.finished(event.report)

    def note(self, text: str, level: str = "info") -> None:
        if text.startswith(WARNING_PREFIX):
            text, level = text.removeprefix(WARNING_PREFIX), "warning"
        self.write("note", {"level": level, "message": text})

    def finished(self, report: RunReport) -> None:
        """The report's notes, then the summary."""
        for text in report.notes:
            self.note(text)
        if report.fanout:
            for installation in report.installations:
                if installation.aborted:
                    self.note(f"aborted for {installation.name}: {installation.aborted}", "warning")
        elif report.aborted:
            self.note(f"aborted: {report.aborted}", "warning")
        self.write("summary", summary_record(report))

    def error(self, message: str, exit_code: int) -> None:
        self.write("error", error_record(message, exit_code))
