"""The ops page, ``batchtool serve``: sign in, upload a spreadsheet, see the plan, send it,
watch it, download the results — through the same engine, journal and results as the CLI.

Modules, one job each: ``app`` (the application object and ``serve``), ``settings`` (data
dir and server settings), ``users`` and ``sessions`` (who may sign in, who is signed in),
``signin`` (sign-in throttles and the fair queue in front of password hashing),
``security`` (the middlewares every request passes), ``forms`` (request bodies within
limits, uploads streamed to disk), ``render`` (pages, JSON twins, error pages),
``pages_auth`` / ``pages_batch`` / ``pages_runs`` (the handlers), ``runs`` (every run's
lifecycle), ``runstore`` (run folders and ``meta.json``), ``checking`` (the dry run behind a
plan), ``shown`` (engine messages and file content as pages show them), ``sending`` (a run
in its own thread), ``live`` (a sending run's live state), ``tables`` (what pages read from
run files), ``mappings`` (remembered column choices), ``installations`` (profiles the page
offers), ``files`` (private JSON files).
"""

from batchtool.web.app import check_bind, make_app, serve
from batchtool.web.settings import WebConfig, default_data_dir
from batchtool.web.users import Users

__all__ = ["Users", "WebConfig", "check_bind", "default_data_dir", "make_app", "serve"]
