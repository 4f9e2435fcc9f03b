"""The ops page, ``batchtool serve``: sign in, upload a spreadsheet, see the plan, send it,
watch it, download the results — through the same engine, journal and results as the CLI.

Modules, one job each: ``app`` (the application object and ``serve``), ``settings`` (data
dir and server settings), ``datadir`` (one process at a time holds a data dir), ``users``
and ``sessions`` (who may sign in, with which role; who is signed in), ``signin`` (sign-in
throttles and the fair queue in front of password hashing), ``security`` (the middlewares
every request passes), ``forms`` (request bodies within limits, uploads streamed to disk),
``permissions`` (the roles, the actions, the table of who may do what, ``allowed``),
``guard`` (the middleware that asks ``allowed`` for every route), ``render`` (pages, JSON
twins, error pages), ``pages_auth`` / ``pages_batch`` / ``pages_runs`` / ``pages_approval``
/ ``pages_downloads`` / ``pages_audit`` (the handlers), ``keys`` (what the application and a
request hold), ``runs`` (every run's lifecycle), ``runerror`` (a request about a run
refused, in words), ``reception`` (an upload on its way in), ``retrying`` (a run's failed
rows sent again), ``rechecking`` (a run not sent yet checked again: reading options, column
choices), ``reading`` (the controls that stand for the reading options, and the page's words
for a fix), ``checked`` (a checked run's invalid rows and their places in the file),
``approval`` (when a run needs a second person, who decides, and what binds it),
``runstore`` (run folders and ``meta.json``), ``checking`` (the dry run behind a plan),
``shown`` (engine messages and file content as pages show them), ``sending`` (a run in its
own thread, and what it leaves on the run), ``live`` (a sending run's live state),
``downloads`` (which downloads a run offers; those made from its results), ``tables`` (what
pages read from run files: errors grouped, the Excel downloads), ``story`` (who did what to
a run, and when), ``auditing`` (what the page writes to the audit log), ``auditwriter`` (its
lines written a batch per sync), ``retention`` (old runs' customer data deleted),
``runlist`` (the Runs list's pages and filters), ``words`` (times and reasons in words),
``mappings`` (remembered column choices), ``installations`` (profiles the page offers),
``files`` (private JSON files).
"""

from batchtool.web.app import check_bind, make_app, serve
from batchtool.web.settings import WebConfig, default_data_dir
from batchtool.web.users import Users

__all__ = ["Users", "WebConfig", "check_bind", "default_data_dir", "make_app", "serve"]
