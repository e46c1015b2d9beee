"""Scenario files: the YAML contract of kafka-sim, loaded into frozen, validated models.

`load_scenario(path_or_yaml_text, overrides)` reads a scenario (docs/scenario-file.md), applies
overrides (`{"key.path": value}`, or `--set key.path=value` strings), fills every default
(Kafka 3.9 configs, Kafka's replica assignment) and returns a `Scenario`;
`Scenario.with_overrides({...})` derives a changed copy. Every problem is a `ScenarioError`
whose text is one line, `file:line:col: key.path: message`. `Scenario.faults` lists the
scheduled faults (`FaultSpec`).
"""

from sim.scenario.api import load_scenario, with_overrides
from sim.scenario.errors import ScenarioError
from sim.scenario.faults import (
    FAULT_ACTIONS,
    NEMESIS_KINDS,
    NEMESIS_TARGET_CLASSES,
    SELECTORS,
    FaultSpec,
    parse_group_coordinator,
    parse_leader,
)
from sim.scenario.kafka_configs import ConfigDef, KafkaConfig, render_tables
from sim.scenario.loader import load_scenario_text
from sim.scenario.models import (
    ClusterSpec,
    ConsumerSpec,
    DiskSpec,
    Distribution,
    KeysSpec,
    LinkSpec,
    NetworkSpec,
    ProducerSpec,
    ProtocolSpec,
    RequestHandlingSpec,
    TopicSpec,
    default_assignment,
)
from sim.scenario.scenario_model import SUMMARY_KEYS, Expectation, Scenario

__all__ = [
    "FAULT_ACTIONS",
    "NEMESIS_KINDS",
    "NEMESIS_TARGET_CLASSES",
    "SELECTORS",
    "SUMMARY_KEYS",
    "ClusterSpec",
    "ConfigDef",
    "ConsumerSpec",
    "DiskSpec",
    "Distribution",
    "Expectation",
    "FaultSpec",
    "KafkaConfig",
    "KeysSpec",
    "LinkSpec",
    "NetworkSpec",
    "ProducerSpec",
    "ProtocolSpec",
    "RequestHandlingSpec",
    "Scenario",
    "ScenarioError",
    "TopicSpec",
    "default_assignment",
    "load_scenario",
    "load_scenario_text",
    "parse_group_coordinator",
    "parse_leader",
    "render_tables",
    "with_overrides",
]
