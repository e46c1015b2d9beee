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

A run never hangs silently: when simulated time has not advanced over
``max_steps_without_progress`` heap entries (a million by default), the engine runs a few more
thousand, counts their callbacks, and stops with :class:`SimulationStalled`, whose one-line
message names the callback that keeps rescheduling itself and its actor (``Node.after`` wraps a
callback in ``Node._guarded(incarnation, fn, args)``: ``fn`` is reported). The check runs once
per ``PROGRESS_CHECK_STEPS`` heap entries, outside the per-event path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from heapq import heappop, heappush
from itertools import repeat
from typing import Any

import numpy as np
import simpy
from simpy.core import NORMAL, URGENT, EmptySchedule, StopSimulation
from simpy.events import Event, EventPriority

__all__ = ["SimEnv", "SimulationStalled", "Timer", "stable_hash"]

MAX_STEPS_WITHOUT_PROGRESS = 1_000_000
PROGRESS_CHECK_STEPS = 65_536  # heap entries between two looks at the clock
DIAGNOSIS_STEPS = 10_000  # heap entries whose callbacks are counted to name the culprit


class SimulationStalled(RuntimeError):
    """Simulated time stopped advancing: some callback keeps rescheduling itself at the same
    instant (a zero-delay loop). The message is one line; ``results_path`` is set by the run
    when it wrote a results folder (marked failed)."""

    results_path: Any = None


def stable_hash(name: str) -> int:
    """A process-independent 64-bit hash of a component name (first 8 bytes of sha256)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (reported in meta.json) and
    runs ``Timer`` entries of the heap directly, without a SimPy Event per callback."""

    def __init__(self, max_steps_without_progress: int | None = None) -> None:
        super().__init__(initial_time=0.0)
        self.events_processed = 0
        if max_steps_without_progress is None:
            max_steps_without_progress = MAX_STEPS_WITHOUT_PROGRESS
        self.max_steps_without_progress = max_steps_without_progress
        self.progress_check_steps = max(
            1, min(PROGRESS_CHECK_STEPS, max_steps_without_progress // 16)
        )
        self._checked_at = -1.0  # simulated time at the last check
        self._steps_at_checked_time = 0  # heap entries run since time was last seen to move

    def run(self, until: Any = None) -> Any:
        """``simpy.Environment.run`` for a numeric ``until``, stepping in chunks of
        ``progress_check_steps`` and looking at the clock between chunks (the no-progress
        guard). Other ``until`` values go to SimPy's own loop."""
        if until is None or isinstance(until, Event):
            return super().run(until)
        at = float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = Event(self)
        stop._ok = True
        stop._value = None
        self.schedule(stop, URGENT, at - self._now)
        stop.callbacks.append(StopSimulation.callback)
        step, chunk = self.step, self.progress_check_steps
        try:
            while True:
                for _ in repeat(None, chunk):
                    step()
                self._check_progress()
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            raise RuntimeError(
                f'No scheduled events left but "until" event was not triggered: {stop}'
            ) from None

    def _check_progress(self) -> None:
        if self._now != self._checked_at:
            self._checked_at = self._now
            self._steps_at_checked_time = 0
            return
        self._steps_at_checked_time += self.progress_check_steps
        if self._steps_at_checked_time >= self.max_steps_without_progress:
            raise SimulationStalled(self._diagnose())

    def _diagnose(self) -> str:
        """Run a few more heap entries, counting their callbacks; name the most frequent."""
        stalled = self._steps_at_checked_time
        counts: Counter[tuple[str, str]] = Counter()
        sample = min(DIAGNOSIS_STEPS, self.max_steps_without_progress)
        for _ in range(sample):
            if not self._queue or self._queue[0][0] != self._now:
                break
            entry = self._queue[0][3]
            if not (type(entry) is Timer and entry.cancelled):  # dead entries do nothing
                counts[_describe(entry)] += 1
            self.step()
        seen = sum(counts.values())
        where = (
            f"simulation stalled at {self._now:.3f} ms: {stalled:,} events without simulated "
            "time advancing"
        )
        if not counts:
            return where
        (actor, callback), n = counts.most_common(1)[0]
        owner = f" of {actor}" if actor else ""
        return f"{where}; {callback}{owner} keeps rescheduling ({n:,} of the next {seen:,} events)"

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


def _callable_name(fn: Any) -> tuple[str, str]:
    """(actor name or "", qualified name) of a callback."""
    while hasattr(fn, "func") and hasattr(fn, "args"):  # functools.partial
        fn = fn.func
    owner = getattr(fn, "__self__", None)
    actor = getattr(owner, "name", "")
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return (actor if isinstance(actor, str) else ""), name


def _describe(entry: Any) -> tuple[str, str]:
    """(actor, callback) of a heap entry: a Timer's function (through ``Node._guarded``), or
    the first callback of a SimPy event (a process: its generator)."""
    if type(entry) is Timer:
        fn, args = entry._fn, entry._args
        actor, name = _callable_name(fn)
        if getattr(fn, "__name__", "") == "_guarded" and len(args) > 1 and callable(args[1]):
            inner_actor, name = _callable_name(args[1])
            actor = inner_actor or actor
        return actor, name
    for callback in getattr(entry, "callbacks", None) or ():
        process = getattr(callback, "__self__", None)
        generator = getattr(process, "_generator", None)
        if generator is not None:
            frame = getattr(generator, "gi_frame", None)
            actor = getattr(frame.f_locals.get("self") if frame else None, "name", "")
            name = getattr(generator, "__qualname__", "process")
            return (actor if isinstance(actor, str) else ""), name
        return _callable_name(callback)
    return "", type(entry).__qualname__


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

    def __init__(
        self,
        seed: int,
        recorder: Any = None,
        *,
        max_steps_without_progress: int | None = None,
    ) -> None:
        """``max_steps_without_progress``: heap entries without simulated time advancing before
        the run stops with :class:`SimulationStalled` (None: ``MAX_STEPS_WITHOUT_PROGRESS``)."""
        self.env = _CountingEnvironment(max_steps_without_progress)
        self.seed = int(seed)
        self.recorder = recorder
        self._rngs: dict[str, np.random.Generator] = {}
        # The invariant checker (sim.cluster.invariants.Invariants) when the run checks them.
        self.invariants: Any = None

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
