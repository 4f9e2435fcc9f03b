"""Start ``batchtool serve`` for a benchmark run: a fresh data dir with one user, a config
whose profile "bench" is the run's simulator, then become the server (exec, same pid).

    web_server.py SIMULATOR_URL WORKDIR

The pid is written to WORKDIR/server.pid first, so the driver can watch the server's memory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.settings import API_KEY, API_USERNAME, BATCHTOOL

USER = "bench"
PASSWORD = "bench-password-not-secret"
KEY_ENV = "BATCHTOOL_BENCH_KEY"


def main() -> None:
    sim_url, workdir = sys.argv[1], Path(sys.argv[2])
    data_dir = workdir / "data"
    config = workdir / "config.toml"
    config.write_text(
        f'[profiles.bench]\nbase_url = "{sim_url}"\n'
        f'api_username = "{API_USERNAME}"\napi_key_env = "{KEY_ENV}"\n'
    )
    from batchtool.web import Users, WebConfig

    Users(WebConfig(data_dir=data_dir).users_path).add(USER, PASSWORD)
    (workdir / "server.pid").write_text(str(os.getpid()))
    env = {**os.environ, KEY_ENV: API_KEY, "PYTHONUNBUFFERED": "1"}
    argv = [BATCHTOOL, "serve", "--port", "0", "--data-dir", str(data_dir), "--config", str(config)]
    os.execve(BATCHTOOL, argv, env)


if __name__ == "__main__":
    main()
