"""The command's start: polars tuned for batchtool before it loads, a user's own choice kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from batchtool._entry import tuned

OURS = "dirty_decay_ms:100,muzzy_decay_ms:0"


@pytest.mark.parametrize(
    ("environ", "allocator"),
    [
        pytest.param({}, OURS, id="nothing-set"),
        # A parent process that imported polars hands down polars' own defaults.
        pytest.param(
            {"_RJEM_MALLOC_CONF": "dirty_decay_ms:500,muzzy_decay_ms:1000"},
            OURS,
            id="polars-defaults-inherited",
        ),
        pytest.param({"_RJEM_MALLOC_CONF": "narenas:1"}, f"narenas:1,{OURS}", id="other-option"),
        pytest.param({"_RJEM_MALLOC_CONF": "dirty_decay_ms:2000"}, None, id="user-decay-wins"),
    ],
)
def test_the_allocator_is_tuned_unless_the_user_chose_a_decay(
    environ: dict[str, str], allocator: str | None
) -> None:
    assert tuned(environ).get("_RJEM_MALLOC_CONF") == allocator


def test_threads_and_morsels_the_user_set_are_kept() -> None:
    settings = tuned({"POLARS_MAX_THREADS": "4"})
    assert "POLARS_MAX_THREADS" not in settings
    assert settings["POLARS_IDEAL_MORSEL_SIZE"] == "50000"


def test_the_command_hands_polars_the_settings_before_it_loads() -> None:
    code = (
        "import os, sys; from batchtool import _entry; "
        "os.environ.update(_entry.tuned(os.environ)); import polars; "
        "print(os.environ['_RJEM_MALLOC_CONF'], polars.thread_pool_size())"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "POLARS_MAX_THREADS")
    }
    env["_RJEM_MALLOC_CONF"] = (
        "dirty_decay_ms:500,muzzy_decay_ms:1000"  # as a polars parent leaves it
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    conf, threads = out.stdout.split()
    # polars puts its defaults first and ours after them: the last setting of a key wins.
    assert conf.endswith(OURS)
    assert threads == "1"
