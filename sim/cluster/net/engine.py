"""The simulation engine: SimPy environment, simulated clock, named random streams, recorder.

Theory of operation
-------------------
Time is a float in **milliseconds**, the unit of Kafka's ``*.ms`` settings. Every component draws
randomness from its own ``numpy.random.Generator``, seeded from
``SeedSequence([run_seed, stable_hash(name)])``: adding a producer does not shift a broker's
stream, and two processes with the same seed make the same draws (no global ``random``, no
``np.random.*`` module functions, no salted ``hash()``).

Most of the model is callback-driven rather than one SimPy process per actor: ``call_later``
schedules a plain function on the event heap (one SimPy event, no generator), which is what keeps
the simulator fast. SimPy processes are still used where a sequential story reads best (the
consumer's poll loop).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.core import NORMAL, EmptySchedule, StopSimulation
from simpy.events import EventPriority

__all__ = ["SimEnv", "Timer", "stable_hash"]


def stable_hash(name: str) -> int:
    """A process-independent 64-bit hash of a component name (first 8 bytes of sha256)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (reported in meta.json) and
    runs ``Timer`` entries of the heap directly, without a SimPy Event per callback."""

    def __init__(self) -> None:
        super().__init__(initial_time=0.0)
        self.events_processed = 0

    def step(self) -> None:
        try:
            self._now, _, _, event = heappop(self._queue)
        except IndexError:
            raise EmptySchedule from None
        if type(event) is Timer:
            if not event.cancelled:  # a cancelled timer is a dead heap entry, not an event
                event.cancelled = True
                self.events_processed += 1
                event._fn(*event._args)
            return
        self.events_processed += 1
        # Anything else is a SimPy event: process it exactly as simpy.Environment.step does.
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


def _noop(*_args: Any) -> None:
    return None


class Timer:
    """A cancellable callback scheduled on the event heap.

    Cancelling leaves the heap entry in place (SimPy has no removal) but makes it a no-op, which
    is the usual trick for timers that are mostly cancelled (request timeouts, purgatory expiry).
    """

    __slots__ = ("_args", "_fn", "cancelled", "when")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self._fn = fn
        self._args = args
        self.cancelled = False

    def cancel(self) -> None:
        # The heap entry stays until its time (SimPy cannot remove it): drop the references so
        # a cancelled 30 s request timeout does not keep its request and batches alive.
        self.cancelled = True
        self._fn = _noop
        self._args = ()


class SimEnv:
    """SimPy environment plus the run's seed, named random streams and recorder."""

    # Tests only: start every periodic timer at phase 0 (as if every node booted at exactly
    # t = 0), so that a trace test can state exact times. Never set by a scenario.
    zero_phases: bool = False

    def __init__(self, seed: int, recorder: Any = None) -> None:
        self.env = _CountingEnvironment()
        self.seed = int(seed)
        self.recorder = recorder
        self._rngs: dict[str, np.random.Generator] = {}

    @property
    def now(self) -> float:
        return float(self.env.now)

    @property
    def events_processed(self) -> int:
        return self.env.events_processed

    def rng(self, name: str) -> np.random.Generator:
        """The random stream of the component called ``name`` (created on first use)."""
        generator = self._rngs.get(name)
        if generator is None:
            generator = np.random.default_rng(
                np.random.SeedSequence([self.seed, stable_hash(name)])
            )
            self._rngs[name] = generator
        return generator

    def phase(self, name: str, interval: float) -> float:
        """The phase of a periodic timer of component ``name``: uniform in [0, interval) from
        the stream ``{name}:phase`` (real nodes boot at slightly different times, so their
        heartbeats, pings and ticks are not aligned); 0 under ``zero_phases``."""
        if self.zero_phases or interval <= 0.0:
            return 0.0
        return float(self.rng(f"{name}:phase").uniform(0.0, interval))

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` after ``delay`` ms of simulated time; returns a cancellable Timer."""
        env = self.env
        when = env._now + delay
        timer = Timer(when, fn, args)
        heappush(env._queue, (when, NORMAL, next(env._eid), timer))  # type: ignore[misc]
        return timer

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_later(max(0.0, when - self.env.now), fn, *args)

    def process(self, generator: Any) -> simpy.Process:
        return self.env.process(generator)

    def timeout(self, delay: float) -> simpy.Timeout:
        return self.env.timeout(delay)

    def event(self) -> simpy.Event:
        return self.env.event()

    def run(self, until: float) -> None:
        self.env.run(until=until)
