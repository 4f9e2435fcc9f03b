"""Files a scheduler reads after a run: the summary as JSON, and metrics for Prometheus.

``write_summary_json`` writes the record of the ``summary`` JSON log event. ``write_metrics``
writes the Prometheus text format for node_exporter's textfile collector: rows per status,
requests, retries, duration, end time and exit code of the last run, labelled with the input
file's name (and the profile, when one is used). It also keeps the end time of the last
successful run across failed ones, so an alert can say "no successful run in 26 h".

A run to several installations labels what is each installation's own (rows, requests,
retries, exit code, last success) with ``installation`` instead of ``profile``, one series
per installation and no total beside them (``sum()`` makes it, as Prometheus would have it):
an alert then names the installation that failed. Its duration and end time are the run's.
A run to one installation keeps exactly the series it always had, so alerts keep working.

Both are written atomically (node_exporter must never read half a file), and both can be
written for a run that stopped before it started (exit 2): the job ran, and said why not.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from batchtool import model
from batchtool.atomic import replace_text
from batchtool.jsonlog import error_record, retries, summary_record
from batchtool.report import EXIT_OK, RunReport

#: Every status a row can end with: each gets a series, 0 when no row has it, so that a
#: series does not vanish (and an alert on it fall silent) on the night it would matter.
STATUSES: Final[tuple[str, ...]] = (
    model.OK,
    model.UNCHANGED,
    model.FAILED,
    model.INVALID,
    model.SKIPPED,
    model.VALID,
)

_LAST_SUCCESS: Final = "batchtool_last_success_timestamp_seconds"


def write_summary_json(
    path: Path, report: RunReport | None, *, error: str | None = None, exit_code: int = EXIT_OK
) -> None:
    """The run's summary record (or, without a report, the error that stopped it) at ``path``."""
    record = summary_record(report) if report is not None else error_record(error or "", exit_code)
    replace_text(path, json.dumps(record, ensure_ascii=False, indent=2) + "\n")


@dataclass(frozen=True)
class _Metric:
    name: str
    help: str
    value: float
    labels: Mapping[str, str]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _previous_success(path: Path, labels: Mapping[str, str]) -> float | None:
    """The last success time an earlier run wrote at ``path`` for the same labels, if any."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.escape(_LAST_SUCCESS + _labels(labels)) + r" (\S+)$"
    found = re.search(pattern, text, flags=re.MULTILINE)
    if found is None:
        return None
    try:
        return float(found.group(1))
    except ValueError:
        return None


_ROWS_HELP: Final = "Rows of the last run, by final status."
_REQUESTS_HELP: Final = "HTTP requests the last run sent, retries included."
_RETRIES_HELP: Final = "Requests the last run sent beyond the first of each row."
_EXIT_HELP: Final = (
    "The last run's exit code: 0 ok, 1 some rows not ok, 2 not started, 3 aborted, "
    "130 interrupted."
)
_SUCCESS_HELP: Final = "When the last run that exited 0 ended, in seconds since the Unix epoch."
_DURATION_HELP: Final = "How long the last run took."
_ENDED_HELP: Final = "When the last run ended, in seconds since the Unix epoch."


@dataclass(frozen=True)
class _Outcome:
    """What one set of series tells: a run to one installation, or one of several."""

    labels: Mapping[str, str]
    counts: Mapping[str, int]
    requests: int
    retries: int
    exit_code: int
    last_success: float | None

    def metrics(self) -> list[_Metric]:
        labels = dict(self.labels)
        found = [
            *(
                _Metric("batchtool_rows", _ROWS_HELP, self.counts.get(s, 0), labels | {"status": s})
                for s in STATUSES
            ),
            _Metric("batchtool_requests", _REQUESTS_HELP, self.requests, labels),
            _Metric("batchtool_retries", _RETRIES_HELP, self.retries, labels),
            _Metric("batchtool_exit_code", _EXIT_HELP, self.exit_code, labels),
        ]
        if self.last_success is not None:
            found.append(_Metric(_LAST_SUCCESS, _SUCCESS_HELP, self.last_success, labels))
        return found


def _outcomes(
    report: RunReport | None,
    *,
    base: Mapping[str, str],
    exit_code: int,
    ended_at: float,
    profile: str | None,
    last_success: float | None,
    names: Sequence[str],
    previous_success: Mapping[str, float],
) -> list[_Outcome]:
    """One outcome for a run to one installation; one per installation of several."""
    if not names:
        labels = {**base, **({"profile": profile} if profile else {})}
        return [
            _Outcome(
                labels,
                report.summary.counts if report is not None else {},
                report.requests_sent if report is not None else 0,
                retries(report) if report is not None else 0,
                exit_code,
                ended_at if exit_code == EXIT_OK else last_success,
            )
        ]
    found = []
    each = report.installations if report is not None else [None] * len(names)
    for name, done in zip(names, each, strict=True):
        code = exit_code
        if done is not None and report is not None:
            code = done.exit_code(interrupted=report.interrupted)
        found.append(
            _Outcome(
                {**base, "installation": name},
                done.summary.counts if done else {},
                done.requests_sent if done else 0,
                done.retries if done else 0,
                code,
                ended_at if code == EXIT_OK else previous_success.get(name),
            )
        )
    return found


def metrics_text(
    *,
    input_path: Path,
    exit_code: int,
    duration_s: float,
    ended_at: float,
    report: RunReport | None = None,
    profile: str | None = None,
    last_success: float | None = None,
    installations: Sequence[str] = (),
    previous_success: Mapping[str, float] | None = None,
) -> str:
    """The Prometheus text for one run; ``report`` None for a run that stopped before starting.

    A run to several installations (``report.installations``, or ``installations`` when it
    stopped before starting) gets each one's series labelled ``installation``;
    ``previous_success`` holds each one's last success an earlier run recorded.
    """
    base = {"input": input_path.name}
    names = _fanout_names(report, installations)
    outcomes = _outcomes(
        report,
        base=base,
        exit_code=exit_code,
        ended_at=ended_at,
        profile=profile,
        last_success=last_success,
        names=names,
        previous_success=previous_success or {},
    )
    run_labels = base if names else outcomes[0].labels
    metrics = [
        *(metric for outcome in outcomes for metric in outcome.metrics()),
        _Metric("batchtool_duration_seconds", _DURATION_HELP, duration_s, run_labels),
        _Metric("batchtool_last_run_timestamp_seconds", _ENDED_HELP, ended_at, run_labels),
    ]
    metrics.sort(key=lambda metric: _ORDER.index(metric.name))  # stable: series stay in order
    lines: list[str] = []
    for metric in metrics:
        if not lines or not lines[-1].startswith(metric.name + "{"):
            lines += [f"# HELP {metric.name} {metric.help}", f"# TYPE {metric.name} gauge"]
        lines.append(f"{metric.name}{_labels(metric.labels)} {_number(metric.value)}")
    return "\n".join(lines) + "\n"


#: The metrics in the order the file lists them, each one's series together.
_ORDER: Final = (
    "batchtool_rows",
    "batchtool_requests",
    "batchtool_retries",
    "batchtool_duration_seconds",
    "batchtool_last_run_timestamp_seconds",
    "batchtool_exit_code",
    _LAST_SUCCESS,
)


def _fanout_names(report: RunReport | None, installations: Sequence[str]) -> tuple[str, ...]:
    """The installations of a run to several, in order; empty for a run to one."""
    if report is not None:
        return tuple(str(i.name) for i in report.installations) if report.fanout else ()
    return tuple(installations) if len(installations) > 1 else ()


def write_metrics(
    path: Path,
    *,
    input_path: Path,
    exit_code: int,
    duration_s: float,
    report: RunReport | None = None,
    profile: str | None = None,
    ended_at: float | None = None,
    installations: Sequence[str] = (),
) -> None:
    """Write the run's metrics to ``path`` atomically (see :func:`metrics_text`).

    The last success time of an earlier run at ``path`` is kept when this run failed (each
    installation's, in a run to several). ``installations``: the names of a run to several
    that stopped before it started (with a report, its own installations count).
    """
    labels = {"input": input_path.name, **({"profile": profile} if profile else {})}
    names = _fanout_names(report, installations)
    text = metrics_text(
        input_path=input_path,
        exit_code=exit_code,
        duration_s=duration_s,
        ended_at=time.time() if ended_at is None else ended_at,
        report=report,
        profile=profile,
        last_success=_previous_success(path, labels),
        installations=names,
        previous_success={
            name: found
            for name in names
            if (found := _previous_success(path, {"input": input_path.name, "installation": name}))
            is not None
        },
    )
    replace_text(path, text)
