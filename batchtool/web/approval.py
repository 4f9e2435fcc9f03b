"""Four-eyes approval: when a run needs a second person, who may decide on it, and what binds
an approval to the run's exact file.

A profile of the config file says when, beside its ``base_url``::

    [profiles.production]
    approval = "forget"          # "never" (the default), "forget" or "always"
    approval_over_rows = 5000    # also: runs of more than 5,000 rows to send

``approval = "forget"`` applies to files with a forget row, ``"always"`` to every run;
``approval_over_rows`` to runs of more rows to send than that, whatever ``approval`` says.
The rule is read when a run is sent, not when it was checked: a run waiting for approval
when the rule changes is judged by the rule of the moment it is sent.

A value that cannot be understood is never taken for "never": the installation is still
offered for checking, and sending to it is refused with the config's problem in one line.

What is approved is the stored upload's fingerprint and the reading options as they were
when approval was asked for (``runstore.Approval``); both are checked again before the run
is sent, so what is sent is exactly what the approver saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from batchtool import api
from batchtool.web import runstore
from batchtool.web.runerror import RunError
from batchtool.web.runstore import Approval, RunMeta

NEVER: Final = "never"
FORGET: Final = "forget"
ALWAYS: Final = "always"
WHEN: Final = (NEVER, FORGET, ALWAYS)

#: Longest rejection reason kept: a sentence or a paragraph, not a document.
MAX_REASON: Final = 1000


@dataclass(frozen=True)
class Rule:
    """A profile's approval rule; ``problem`` says why it cannot be read (nothing is sent)."""

    when: str = NEVER
    over_rows: int | None = None
    problem: str | None = None


def rule_of(profile: str, table: Mapping[str, Any], config_path: Path) -> Rule:
    """The rule of ``[profiles.<profile>]``; a value it cannot take gives a Rule with a problem."""
    when = table.get("approval", NEVER)
    over = table.get("approval_over_rows")
    where = f"config file {config_path}: [profiles.{profile}]"
    refused = f"nothing is sent to {profile} until it is fixed"
    if when not in WHEN:
        return Rule(
            problem=f'{where} approval = {_shown(when)} is not "never", "forget" or '
            f'"always" — {refused}'
        )
    if over is not None and (isinstance(over, bool) or not isinstance(over, int) or over < 0):
        return Rule(
            problem=f"{where} approval_over_rows = {_shown(over)} is not a number of rows "
            f"(0 or more) — {refused}"
        )
    return Rule(str(when), over)


def _shown(value: object) -> str:
    """A config value as TOML would write it, near enough for a message."""
    return json.dumps(value, default=str, ensure_ascii=False)


def needed(rule: Rule, plan: Mapping[str, Any]) -> str | None:
    """Why a run with ``plan`` needs approval under ``rule``, in words; None if it does not."""
    valid = int(plan.get("valid", 0))
    forget = int(plan.get("by_operation", {}).get(api.FORGET, 0))
    if rule.when == ALWAYS:
        return "every run to this installation needs approval"
    if rule.when == FORGET and forget:
        return f"it has {forget:,} forget {'row' if forget == 1 else 'rows'}"
    if rule.over_rows is not None and valid > rule.over_rows:
        return f"it sends {valid:,} rows, more than {rule.over_rows:,}"
    return None


def needed_at(meta: RunMeta, rule_of: Callable[[str], Rule]) -> str | None:
    """Why ``meta`` needs approval by the rules of its installations (``rule_of`` each one's,
    or UsageError when it cannot be read), in words; None if it does not. In a run to
    several, any one's rule asking for it is enough, and each that asks names itself."""
    reasons = []
    for target in meta.installations:
        if reason := needed(rule_of(target.name), target.plan or {}):
            reasons.append(f"{target.name}: {reason}" if meta.fanout else reason)
    return "; ".join(reasons) or None


def refused(meta: RunMeta, reason: str) -> str:
    """Why the one who asks to send ``meta`` cannot: it needs approval (``reason``), and
    whoever approves it sends it."""
    if meta.status == runstore.WAITING:
        return (
            f"This run is waiting for approval ({reason}): an approver or admin other "
            "than the one who asked approves and sends it."
        )
    return (
        f"This run needs a second person's approval ({reason}): request approval, "
        "then an approver or admin other than you sends it."
    )


def waiting(meta: RunMeta, user: str) -> Approval:
    """The request for approval ``meta`` waits on, for ``user`` to decide; RunError when it
    waits on none, or when ``user`` asked for it: no one approves their own run."""
    request = meta.approval
    if meta.status != runstore.WAITING or request is None:
        raise RunError("This run is not waiting for approval.")
    if request.requested_by == user:
        raise RunError("You asked for this run's approval: another approver or admin must.")
    return request


def changed(request: Approval, fingerprint: str, options: Mapping[str, Any]) -> str | None:
    """What differs from what was put up for approval, in words; None if nothing does."""
    if fingerprint != request.fingerprint:
        return (
            "The stored file changed after approval was requested, so it is not what the "
            "approver would send — nothing was sent; reject this run and upload the file again."
        )
    if dict(options) != request.options:
        return (
            "The run's reading options changed after approval was requested — nothing was "
            "sent; reject this run and upload the file again."
        )
    return None


def reason_given(text: str) -> str:
    """A rejection's reason as kept: trimmed, on one line, at most ``MAX_REASON`` characters."""
    return " ".join(text.split())[:MAX_REASON]
