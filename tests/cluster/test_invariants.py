"""The invariant checker (--check-invariants): each invariant caught by its hook, the Raft checks
on a controller's log, the group-generation hook for the group coordinator, and the whole path
from a violation in a run to exit code 3 with one line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sim import load_scenario, run
from sim.cli import main
from sim.cluster.invariants import INVARIANTS, Invariants, InvariantViolation
from sim.kafka.raft import Entry

T0 = ("T", 0)


def checker() -> Invariants:
    return Invariants(lambda: 1234.5)


def violated(invariant: str) -> Any:
    return pytest.raises(InvariantViolation, match=rf"^invariant {invariant} violated by ")


def test_one_leader_per_partition_and_epoch() -> None:
    inv = checker()
    inv.partition_leader(T0, 3, 1)
    inv.partition_leader(T0, 3, 1)  # told again: fine
    inv.partition_leader(T0, 4, 2)
    inv.partition_leader(("T", 1), 3, 2)  # another partition
    with violated("one-leader-per-epoch") as info:
        inv.partition_leader(T0, 3, 2)
    assert str(info.value) == (
        "invariant one-leader-per-epoch violated by T-0 at 1234.500 ms: broker 2 became leader "
        "in epoch 3, which broker 1 already led"
    )
    assert (info.value.invariant, info.value.entity, info.value.time_ms) == (
        "one-leader-per-epoch",
        "T-0",
        1234.5,
    )


def test_high_watermark_monotonic_on_a_leader_and_never_above_leo() -> None:
    inv = checker()
    inv.partition_leader(T0, 1, 0)
    inv.high_watermark(T0, 0, True, 1, 5, 10)
    inv.high_watermark(T0, 0, True, 1, 7, 10)
    inv.high_watermark(T0, 1, False, 1, 3, 4)  # a follower behind: fine
    inv.high_watermark(T0, 1, False, 1, 2, 4)  # a follower's HW may go down (truncation)
    with violated("hw-monotonic-on-leader"):
        inv.high_watermark(T0, 0, True, 1, 6, 10)
    inv = checker()
    inv.partition_leader(T0, 1, 0)
    inv.high_watermark(T0, 0, True, 1, 7, 10)
    inv.partition_leader(T0, 1, 0)  # a new tenure (restarted with a shorter log): starts over
    inv.high_watermark(T0, 0, True, 1, 0, 0)
    with violated("hw-below-leo") as info:
        inv.high_watermark(T0, 2, False, 1, 11, 10)
    assert "T-0@broker-2" in str(info.value)


def test_isr_contains_the_leader() -> None:
    inv = checker()
    inv.leader_isr(T0, 1, (1, 2))
    with violated("isr-contains-leader"):
        inv.leader_isr(T0, 1, (0, 2))


def test_group_generations_never_go_down() -> None:
    """The hook the group coordinator calls when a group moves to a new generation."""
    inv = checker()
    inv.group_generation("billing", 1)
    inv.group_generation("billing", 2)
    inv.group_generation("billing", 2)
    inv.group_generation("other", 0)
    with violated("group-generation-monotonic") as info:
        inv.group_generation("billing", 1)
    assert "group billing" in str(info.value)


@dataclass
class FakeRaft:
    epoch: int = 0
    high_watermark: int = 0
    log: list[Entry] = field(default_factory=list)
    leader: bool = False

    @property
    def is_leader(self) -> bool:
        return self.leader


def entries(*epochs: int, payload: str = "r") -> list[Entry]:
    return [Entry(e, i, f"{payload}{i}") for i, e in enumerate(epochs)]


def test_raft_election_safety() -> None:
    inv = checker()
    inv.raft_state(0, FakeRaft(epoch=2, leader=True))
    inv.raft_state(1, FakeRaft(epoch=3, leader=True))
    with violated("raft-election-safety"):
        inv.raft_state(2, FakeRaft(epoch=2, leader=True))


def test_raft_log_matching() -> None:
    inv = checker()
    inv.raft_state(0, FakeRaft(log=entries(0, 1, 1)))
    inv.raft_state(1, FakeRaft(log=entries(0, 1)))
    with violated("raft-log-matching"):
        inv.raft_state(2, FakeRaft(log=entries(0, 1, 1, payload="other")))


def test_raft_committed_entries_are_never_lost() -> None:
    inv = checker()
    leader = FakeRaft(epoch=1, high_watermark=3, log=entries(0, 1, 1), leader=True)
    inv.raft_state(0, leader)
    # A follower truncated below the committed offset and rewritten by epoch 2: caught even
    # though its log grew back to the same length.
    follower = FakeRaft(epoch=1, log=entries(0, 1, 1))
    inv.raft_state(1, follower)
    follower.log = [*follower.log[:2], Entry(2, 2, "r2")]
    with violated("raft-committed-never-lost"):
        inv.raft_state(1, follower)
    # A new leader missing a committed entry.
    inv = checker()
    inv.raft_state(0, leader)
    with violated("raft-committed-never-lost") as info:
        inv.raft_state(1, FakeRaft(epoch=2, log=entries(0, 1), leader=True))
    assert "has 2 entries, 3 were committed" in str(info.value)


def test_every_invariant_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "invariants.md").read_text()
    for name in INVARIANTS:
        assert f"`{name}`" in doc, name


def test_the_suite_runs_with_invariants_on(
    hello_kafka: Path, short_overrides: tuple[str, ...]
) -> None:
    result = run(load_scenario(hello_kafka, short_overrides), out=None)
    assert result.meta["invariant_checks"] > 100
    off = run(load_scenario(hello_kafka, short_overrides), out=None, check_invariants=False)
    assert off.meta["invariant_checks"] is None
    assert off.frames["produce"].equals(result.frames["produce"])  # checking changes nothing


def test_a_violation_stops_the_run_with_exit_3_and_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    hello_kafka: Path,
    short_set_args: list[str],
) -> None:
    """A simulated bug: a second broker claims the leadership of an epoch already led."""
    from sim.cluster.broker.broker import Broker

    real = Broker.become_leader

    def buggy(self: Broker, key: Any, leader_epoch: int, *args: Any) -> None:
        real(self, key, leader_epoch, *args)
        if self.simenv.now > 500 and self.simenv.invariants is not None:
            self.simenv.invariants.partition_leader(key, leader_epoch, self.broker_id + 1)

    monkeypatch.setattr(Broker, "become_leader", buggy)
    monkeypatch.delenv("KAFKA_SIM_CHECK_INVARIANTS")
    out = tmp_path / "out"
    argv = [
        "run",
        str(hello_kafka),
        *short_set_args,
        "--set",
        "faults=[{at: 1s, action: shutdown, target: leader(ORDER-0), for: 500ms}]",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0  # not checked: the bug goes unnoticed
    code = main([*argv, "--check-invariants"])
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.splitlines()) == 1, err
    assert err.startswith("kafka-sim: invariant one-leader-per-epoch violated by ORDER-0 at ")
    [folder] = (out / "hello-kafka").iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["status"] == "error"
    assert "InvariantViolation" in meta["exception"]
