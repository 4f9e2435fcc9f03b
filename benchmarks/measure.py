"""Measure one command as its own process: wall time, CPU seconds and peak RSS.

    python benchmarks/measure.py RESULT.json TIMEOUT_S -- CMD [ARGS...]

Why a separate launcher: Linux carries the parent's memory high-water mark into a forked
child's ``ru_maxrss`` across ``exec``. Spawned straight from run_all.py (which has polars
loaded), every contestant would report at least the harness's own peak RSS. Spawned from this
small launcher, the floor is the launcher's few MB, below any Python contestant's own peak.

Writes ``{"wall_s", "cpu_s", "maxrss_kb", "rc"}`` to RESULT.json: wall time from spawn to
reap, user + sys CPU and ``ru_maxrss`` of CMD (and any children it waited for), CMD's exit
code (negative: killed by that signal; -9 after TIMEOUT_S). CMD inherits stdin/stdout/stderr.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    result, timeout_s, cmd = argv[0], float(argv[1]), argv[3:]

    t0 = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)

    def on_alarm(signum: int, frame: object) -> None:
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    signal.setitimer(signal.ITIMER_REAL, 0)

    with open(result, "w") as f:
        json.dump(
            {
                "wall_s": wall,
                "cpu_s": ru.ru_utime + ru.ru_stime,
                "maxrss_kb": ru.ru_maxrss,
                "rc": os.waitstatus_to_exitcode(status),
            },
            f,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
