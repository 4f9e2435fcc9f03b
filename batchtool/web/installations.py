"""The installations the page offers: the config file's profiles, plus two simulators with
``--simulate`` (so sending to several can be tried without a config); and the credentials
to send to one (which never leave the server).

A profile may say how the page names it, beside its ``base_url``: ``label = "Offerit EU"``
(the send button then reads "Send 30 rows to Offerit EU"). A label that is not a line of
text is not shown: the page names the installation by its profile and says what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from batchtool.config import (
    ENV_API_KEY,
    ENV_API_KEY_FILE,
    ENV_API_USERNAME,
    ENV_BASE_URL,
    Credentials,
    default_config_path,
    resolve_credentials,
)
from batchtool.errors import UsageError
from batchtool.urls import masked
from batchtool.web.approval import Rule, rule_of

#: The simulators ``--simulate`` offers, each with a store of its own.
SIMULATORS: Final = ("Simulator", "Simulator 2")
#: The longest label the page shows: a name, not a description.
MAX_LABEL: Final = 60

#: Variables that would send every profile to one installation as one user, or with one
#: key: ignored here, so each installation the page offers is exactly its profile (proxy
#: variables still apply, as they do for curl).
_OVERRIDES: Final = frozenset({ENV_BASE_URL, ENV_API_USERNAME, ENV_API_KEY, ENV_API_KEY_FILE})


@dataclass(frozen=True)
class Installation:
    name: str
    base_url: str
    #: When a run to it needs a second person's approval (``approval``).
    approval: Rule = field(default_factory=Rule)
    #: How the page names it: the profile's ``label``, else its name.
    display: str = ""
    #: Why the profile's ``label`` is not shown, in one line.
    label_problem: str | None = None

    @property
    def shown(self) -> str:
        return self.display or self.name

    @property
    def label(self) -> str:
        """Its choice on New batch: its name (and label), and where it is."""
        named = f"{self.shown}: {self.name}" if self.shown != self.name else self.name
        return f"{named} ({masked(self.base_url)})" if self.base_url else named


def label_of(
    profile: str, table: Mapping[str, object], config_path: Path
) -> tuple[str, str | None]:
    """The profile's ``label`` as the page shows it, or its name and why the label is not."""
    label = table.get("label")
    if label is None:
        return profile, None
    if isinstance(label, str) and label.strip() and len(label) <= MAX_LABEL and label.isprintable():
        return label.strip(), None
    return profile, (
        f"config file {config_path}: [profiles.{profile}] label is not a line of text of at "
        f"most {MAX_LABEL} characters — the page names it {profile} until it is fixed"
    )


class Installations:
    """Profiles are read from the config file whenever it changes, so adding one needs no restart.

    ``simulators``: credentials of the built-in simulators by name, when the server runs
    with them (``SIMULATORS``).
    """

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path or default_config_path()
        self.simulators: dict[str, Credentials] = {}
        self._stamp: tuple[int, int] | None = None
        self._profiles: dict[str, Installation] = {}

    def _profile_list(self) -> dict[str, Installation]:
        try:
            info = self.config_path.stat()
        except FileNotFoundError:
            return {}
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            try:
                data = tomllib.loads(self.config_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise UsageError(
                    f"config file {self.config_path}: cannot be read ({exc}) — fix or replace it"
                ) from None
            profiles = data.get("profiles")
            found: dict[str, Installation] = {}
            if isinstance(profiles, dict):
                for name, table in profiles.items():
                    if isinstance(table, dict) and name not in SIMULATORS:
                        url = table.get("base_url")
                        display, problem = label_of(name, table, self.config_path)
                        found[name] = Installation(
                            name,
                            url if isinstance(url, str) else "",
                            rule_of(name, table, self.config_path),
                            display,
                            problem,
                        )
            self._stamp, self._profiles = stamp, found
        return self._profiles

    def all(self) -> list[Installation]:
        found = [Installation(name, creds.base_url) for name, creds in self.simulators.items()]
        return found + sorted(self._profile_list().values(), key=lambda i: i.name)

    def get(self, name: str) -> Installation | None:
        return next((i for i in self.all() if i.name == name), None)

    def _gone(self, name: str) -> UsageError:
        return UsageError(
            f"installation {name!r} is no longer in {self.config_path} — "
            "choose another one, or ask an admin to restore its profile"
        )

    def approval_rule(self, name: str) -> Rule:
        """When a run to ``name`` needs approval; UsageError if ``name`` is no longer offered
        or its rule cannot be read (nothing may be sent to it then)."""
        target = self.get(name)
        if target is None:
            raise self._gone(name)
        if target.approval.problem:
            raise UsageError(target.approval.problem)
        return target.approval

    def credentials(self, name: str, environ: Mapping[str, str] | None = None) -> Credentials:
        """Everything needed to send to ``name``; raises UsageError naming what is missing."""
        if name in self.simulators:
            return self.simulators[name]
        if name not in self._profile_list():
            raise self._gone(name)
        env = os.environ if environ is None else environ
        return resolve_credentials(
            profile=name,
            config_path=self.config_path,
            environ={k: v for k, v in env.items() if k not in _OVERRIDES},
        )
