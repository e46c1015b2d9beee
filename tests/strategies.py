"""Reusable hypothesis strategies (attrs-style ``tests/strategies.py``).

Strategies generate *structures* (operation schedules, configs), not seeds, so a failure shrinks
to a minimal schedule.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# ("append", record count, acks) | ("fetch", follower id, fraction of the way to the leader LEO)
# | ("tick", ms: time passes, then the isr-expiration task runs)
# | ("alter", commit?: the controller answers the pending AlterPartition)
ReplicationOp = tuple[Any, ...]


def replication_ops(
    followers: tuple[int, ...] = (1, 2),
    max_batch: int = 5,
    max_tick_ms: int = 150,
    min_size: int = 10,
    max_size: int = 60,
) -> st.SearchStrategy[list[ReplicationOp]]:
    """Random interleavings of produce, follower fetches, time and AlterPartition answers.

    A fetch's offset is ``prev + fraction * (leader LEO - prev)`` rounded down, where ``prev`` is
    the follower's previous fetch offset, so fetch offsets never go backwards nor past the LEO.
    """
    append = st.tuples(
        st.just("append"), st.integers(1, max_batch), st.sampled_from(["all", "1", "0"])
    )
    fetch = st.tuples(
        st.just("fetch"),
        st.sampled_from(followers),
        st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.0]) | st.floats(0.0, 1.0),
    )
    tick = st.tuples(st.just("tick"), st.integers(0, max_tick_ms))
    alter = st.tuples(st.just("alter"), st.booleans())
    op = st.one_of(append, append, fetch, fetch, fetch, tick, alter)
    return st.lists(op, min_size=min_size, max_size=max_size)
