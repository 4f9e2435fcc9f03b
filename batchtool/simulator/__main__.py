"""``python -m batchtool.simulator``: the simulator as its own process, for test harnesses.

The same as ``batchtool simulate --port 0 --ready-line``: prints exactly one line,
``READY http://127.0.0.1:PORT``, once listening, then serves until SIGTERM or SIGINT and saves
``--state`` (if given) on the way out. Any ``batchtool simulate`` option may follow.
"""

import sys

from batchtool.cli import simulate

if __name__ == "__main__":  # importing this module (to warm imports, say) serves nothing
    simulate.main(
        args=["--port", "0", "--ready-line", *sys.argv[1:]],
        prog_name="python -m batchtool.simulator",
    )
