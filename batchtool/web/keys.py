"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from typing import Final

import jinja2
from aiohttp import web

from batchtool.audit import AuditLog
from batchtool.web.auditwriter import AuditWriter
from batchtool.web.installations import Installations
from batchtool.web.permissions import Actor
from batchtool.web.runs import RunManager
from batchtool.web.sessions import Session, Sessions, SignInForms
from batchtool.web.settings import WebConfig
from batchtool.web.signin import HashQueue, SignInThrottle
from batchtool.web.users import Users

CONFIG: Final = web.AppKey("config", WebConfig)
USERS: Final = web.AppKey("users", Users)
SESSIONS: Final = web.AppKey("sessions", Sessions)
SIGN_IN_FORMS: Final = web.AppKey("sign-in forms", SignInForms)
THROTTLE: Final = web.AppKey("throttle", SignInThrottle)
HASHING: Final = web.AppKey("hashing", HashQueue)
INSTALLATIONS: Final = web.AppKey("installations", Installations)
RUNS: Final = web.AppKey("runs", RunManager)
TEMPLATES: Final = web.AppKey("templates", jinja2.Environment)
AUDIT: Final = web.AppKey("audit", AuditLog)
#: Where requests write their audit lines: ``AUDIT``, a batch per sync.
AUDIT_WRITER: Final = web.AppKey("audit writer", AuditWriter)

SESSION: Final = web.RequestKey[Session | None]("session")
#: Who is asking, once ``guard`` has let the request through.
ACTOR: Final = web.RequestKey("actor", Actor)
