"""The terminal of a long command: its lines, and a heartbeat when it has been silent too long.

A person watching ``make demo`` cannot tell a working task from a stuck one: when nothing was
printed for ``SINFONIA_HEARTBEAT_S`` seconds (default 8, so that a loaded machine's delays keep
every silence under 15 s), a line says what is still running and for how long
(``…  dbt_build still running (20 s so far)``), again every interval until it ends.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def heartbeat_seconds() -> float:
    """The longest silence before a heartbeat line (``SINFONIA_HEARTBEAT_S``, default 8 s)."""
    value = os.environ.get("SINFONIA_HEARTBEAT_S", "").strip()
    try:
        seconds = float(value) if value else 8.0
    except ValueError:
        raise ValueError(f"SINFONIA_HEARTBEAT_S={value!r}: expected a number of seconds") from None
    return seconds if seconds > 0 else 8.0


def heartbeat_line(what: str, seconds: float) -> str:
    return f"    …       {what} still running ({seconds:.0f} s so far)"


class Console:
    """Call it with a line to print it; ``doing(what)`` names what runs now, for the heartbeat.

    A background thread prints the heartbeat; ``close()`` (or leaving ``open_console``) stops it.
    Thread-safe: the heartbeat never splits a line printed by the command.
    """

    def __init__(self, write: Callable[[str], None], every: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._write, self._clock = write, clock
        self.every = every if every is not None else heartbeat_seconds()
        self._lock = threading.Lock()
        self._last = clock()
        self._doing: str | None = None
        self._since = self._last
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sinfonia-heartbeat", daemon=True)
        self._thread.start()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._write(line)
            self._last = self._clock()

    def doing(self, what: str | None) -> None:
        """What runs from now on (None: nothing worth a heartbeat)."""
        with self._lock:
            self._doing, self._since = what, self._clock()

    @contextmanager
    def running(self, what: str) -> Iterator[None]:
        """``doing(what)`` for the duration of the block, then what ran before it again."""
        with self._lock:
            before, since = self._doing, self._since
        self.doing(what)
        try:
            yield
        finally:
            with self._lock:
                self._doing, self._since = before, since

    def beat(self) -> bool:
        """Print the heartbeat if the console has been silent for the interval; True if it did."""
        with self._lock:
            now = self._clock()
            if self._doing is None or now - self._last < self.every:
                return False
            self._write(heartbeat_line(self._doing, now - self._since))
            self._last = now
            return True

    def _beat(self) -> None:
        tick = min(1.0, self.every / 4)
        while not self._stop.wait(tick):
            try:
                self.beat()
            except (OSError, ValueError):  # the terminal went away: nothing more to say
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


@contextmanager
def open_console(write: Callable[[str], None] | None = None) -> Iterator[Console]:
    """A ``Console`` on ``write`` (default: print and flush), its heartbeat stopped on exit."""
    console = Console(write or (lambda line: print(line, flush=True)))
    try:
        yield console
    finally:
        console.close()


def while_silent(what: str, work: Callable[[], T], write: Callable[[str], None] | None = None) -> T:
    """Run ``work()``, with heartbeat lines naming ``what`` while it prints nothing."""
    with open_console(write) as console, console.running(what):
        return work()


@contextmanager
def running(progress: Callable[[str], None], what: str) -> Iterator[None]:
    """``progress.running(what)`` when ``progress`` is a ``Console``; nothing otherwise."""
    if isinstance(progress, Console):
        with progress.running(what):
            yield
    else:
        yield
