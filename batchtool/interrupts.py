"""Ctrl-C and SIGTERM during a run: the first stops starting rows, the second quits at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading

from batchtool.events import EventSink, RunNote
from batchtool.report import EXIT_INTERRUPTED


class Interrupts:
    """First SIGINT/SIGTERM: set ``stop``. Second: leave at once (the journal is safe)."""

    def __init__(self, stop: asyncio.Event, sink: EventSink) -> None:
        self._stop = stop
        self._sink = sink
        self._installed: list[signal.Signals] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may own signals (e.g. run from an Airflow worker thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
            self._installed.append(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stop.is_set():
            self._say("second interrupt — quitting now; finish later with --resume")
            os._exit(EXIT_INTERRUPTED)
        self._stop.set()
        self._say(
            f"{sig.name} — finishing requests in flight, starting no new rows "
            "(interrupt again to quit at once)"
        )

    def _say(self, text: str) -> None:
        # A broken sink (a closed pipe) must not keep the run from stopping.
        with contextlib.suppress(Exception):
            self._sink(RunNote(text, level="warning"))

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed.clear()
