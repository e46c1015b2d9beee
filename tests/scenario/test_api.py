"""`sim.load_scenario` (a path or YAML text; overrides as a mapping or `key=value` strings) and
`Scenario.with_overrides`: dotted keys validated exactly like the file, derived defaults derived
again, errors naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.scenario import ScenarioError

TEXT = """\
name: api
duration: 1s
cluster: {brokers: 3, config: {num.partitions: 2, unclean.leader.election.enable: false}}
topics: [{name: T, replication.factor: 2}]
producers: [{name: p, topic: T, rate: 10/s, config: {acks: all}}]
"""


def test_text_and_path_give_the_same_scenario(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(TEXT)
    from_path = sim.load_scenario(path)
    from_str_path = sim.load_scenario(str(path))
    from_text = sim.load_scenario(TEXT)
    assert from_path.source == str(path) and from_text.source == "<text>"
    assert from_path.effective_dict() == from_text.effective_dict()
    assert from_str_path == from_path
    one_line = sim.load_scenario("{name: tiny, duration: 1s}")
    assert one_line.name == "tiny" and one_line.duration_ms == 1000.0


def test_overrides_as_a_mapping_or_as_set_strings() -> None:
    mapped = sim.load_scenario(TEXT, {"producers.0.config.acks": "1", "seed": 3, "drain": "2s"})
    strings = sim.load_scenario(TEXT, ["producers.0.config.acks=1", "seed=3", "drain=2s"])
    assert mapped.producers[0].config["acks"] == "1"
    assert (mapped.seed, mapped.drain_ms) == (3, 2000.0)
    assert mapped.effective_dict() == strings.effective_dict()


def test_with_overrides_returns_a_new_validated_scenario() -> None:
    base = sim.load_scenario(TEXT)
    changed = base.with_overrides({"producers.0.config.acks": "1", "seed": 3})
    assert changed.producers[0].config["acks"] == "1" and changed.seed == 3
    assert base.producers[0].config["acks"] == "all" and base.seed == 1  # unchanged
    # Overrides stack: the earlier ones are kept.
    again = changed.with_overrides({"producers.0.rate": "20/s"})
    assert again.producers[0].config["acks"] == "1" and again.producers[0].rate_per_s == 20.0


def test_with_overrides_derives_dependent_defaults_again() -> None:
    base = sim.load_scenario(TEXT)
    assert base.topics[0].assignment == [[0, 1], [1, 2]]
    # The topic did not set partitions: it follows the broker's num.partitions.
    more = base.with_overrides({"cluster.config.num.partitions": 3})
    assert more.topics[0].partitions == 3 and more.topics[0].assignment == [[0, 1], [1, 2], [2, 0]]
    # A new replication factor gets a new replica assignment (not a contradiction).
    rf3 = base.with_overrides({"topics.0.replication.factor": 3})
    assert rf3.topics[0].assignment == [[0, 1, 2], [1, 2, 0]]
    # A broker-level config reaches the topic that did not set it.
    unclean = base.with_overrides({"cluster.config.unclean.leader.election.enable": True})
    assert unclean.topics[0].config["unclean.leader.election.enable"] is True


def test_with_overrides_of_a_scenario_changed_by_other_means() -> None:
    """A model_copy (the run's --seed) has no origin of its own: its effective
    configuration is the base, and nothing of the change is lost."""
    copy = sim.load_scenario(TEXT).model_copy(update={"seed": 9})
    changed = copy.with_overrides({"producers.0.config.acks": 0})
    assert changed.seed == 9 and changed.producers[0].config["acks"] == "0"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"producers.0.config.acks": "x"}, "overrides:1:1: producers.0.config.acks: must be one"),
        ({"seed": 2, "topics.0.partitions": 0}, "overrides:2:1: topics.0.partitions: must be >= 1"),
        ({"producers.0.confg.acks": 1}, "overrides:1:1: producers.0.confg: unknown key 'confg'"),
        ({"topics.5.partitions": 1}, "overrides:1:1: topics.5: no item '5' in a list of 1"),
        (["seed=1", "duration=-1s"], "--set:2:10: duration: "),
    ],
)
def test_with_overrides_errors_name_the_key_path(overrides: object, message: str) -> None:
    base = sim.load_scenario(TEXT).with_overrides({"seed": 5})  # earlier overrides: not counted
    with pytest.raises(ScenarioError) as info:
        base.with_overrides(overrides)  # type: ignore[arg-type]
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_a_single_string_is_not_a_list_of_overrides() -> None:
    with pytest.raises(TypeError, match="mapping"):
        sim.load_scenario(TEXT, "seed=3")  # type: ignore[arg-type]


def test_a_missing_file_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing\.yaml:1:1: cannot read file"):
        sim.load_scenario(tmp_path / "missing.yaml")
