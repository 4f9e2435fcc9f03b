"""The stateful customer-API simulator with reproducible fault injection (DESIGN §7).

Serves ``PATCH /api/customer/{set_customer_details,lock,unlock,forget}`` on localhost over an
in-memory store of seeded customers, so batchtool can be tried and tested without a real
installation. See ``store`` for the seeded ids, ``app`` for the API's rules and the admin paths,
``faults`` for fault injection, ``capacity`` for the workers-and-queue model, ``server`` for
running it; ``python -m batchtool.simulator`` runs it as its own process.
"""

from batchtool.simulator.app import DROPPED, OVER_CAPACITY, LogEntry
from batchtool.simulator.faults import Fault, FaultConfig
from batchtool.simulator.server import (
    DEFAULT_API_KEY,
    DEFAULT_API_USERNAME,
    Simulator,
    serve,
)
from batchtool.simulator.store import Customer, Store

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_USERNAME",
    "DROPPED",
    "OVER_CAPACITY",
    "Customer",
    "Fault",
    "FaultConfig",
    "LogEntry",
    "Simulator",
    "Store",
    "serve",
]
