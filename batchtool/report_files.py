"""Files a scheduler reads after a run: the summary as JSON, and metrics for Prometheus.

``write_summary_json`` writes the record of the ``summary`` JSON log event. ``write_metrics``
writes the Prometheus text format for node_exporter's textfile collector: rows per status,
requests, retries, duration, end time and exit code of the last run, labelled with the input
file's name (and the profile, when one is used). It also keeps the end time of the last
successful run across failed ones, so an alert can say "no successful run in 26 h".

Both are written atomically (node_exporter must never read half a file), and both can be
written for a run that stopped before it started (exit 2): the job ran, and said why not.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
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


def metrics_text(
    *,
    input_path: Path,
    exit_code: int,
    duration_s: float,
    ended_at: float,
    report: RunReport | None = None,
    profile: str | None = None,
    last_success: float | None = None,
) -> str:
    """The Prometheus text for one run; ``report`` None for a run that stopped before starting."""
    labels = {"input": input_path.name}
    if profile:
        labels["profile"] = profile
    counts = report.summary.counts if report is not None else {}
    if exit_code == EXIT_OK:
        last_success = ended_at
    metrics = [
        *(
            _Metric(
                "batchtool_rows",
                "Rows of the last run, by final status.",
                counts.get(status, 0),
                {**labels, "status": status},
            )
            for status in STATUSES
        ),
        _Metric(
            "batchtool_requests",
            "HTTP requests the last run sent, retries included.",
            report.requests_sent if report else 0,
            labels,
        ),
        _Metric(
            "batchtool_retries",
            "Requests the last run sent beyond the first of each row.",
            retries(report) if report else 0,
            labels,
        ),
        _Metric("batchtool_duration_seconds", "How long the last run took.", duration_s, labels),
        _Metric(
            "batchtool_last_run_timestamp_seconds",
            "When the last run ended, in seconds since the Unix epoch.",
            ended_at,
            labels,
        ),
        _Metric(
            "batchtool_exit_code",
            "The last run's exit code: 0 ok, 1 some rows not ok, 2 not started, 3 aborted, "
            "130 interrupted.",
            exit_code,
            labels,
        ),
    ]
    if last_success is not None:
        metrics.append(
            _Metric(
                _LAST_SUCCESS,
                "When the last run that exited 0 ended, in seconds since the Unix epoch.",
                last_success,
                labels,
            )
        )
    lines: list[str] = []
    for metric in metrics:
        if not lines or not lines[-1].startswith(metric.name + "{"):
            lines += [f"# HELP {metric.name} {metric.help}", f"# TYPE {metric.name} gauge"]
        lines.append(f"{metric.name}{_labels(metric.labels)} {_number(metric.value)}")
    return "\n".join(lines) + "\n"


def write_metrics(
    path: Path,
    *,
    input_path: Path,
    exit_code: int,
    duration_s: float,
    report: RunReport | None = None,
    profile: str | None = None,
    ended_at: float | None = None,
) -> None:
    """Write the run's metrics to ``path`` atomically (see :func:`metrics_text`).

    The last success time of an earlier run at ``path`` is kept when this run failed.
    """
    labels = {"input": input_path.name, **({"profile": profile} if profile else {})}
    text = metrics_text(
        input_path=input_path,
        exit_code=exit_code,
        duration_s=duration_s,
        ended_at=time.time() if ended_at is None else ended_at,
        report=report,
        profile=profile,
        last_success=_previous_success(path, labels),
    )
    replace_text(path, text)
