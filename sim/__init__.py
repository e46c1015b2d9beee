"""kafka-sim: a discrete-event simulator of Apache Kafka clusters on SimPy.

Public API::

    from sim import load_scenario, run
    scenario = load_scenario("scenarios/hello-kafka.yaml", ["duration=10s"])
    result = run(scenario, seed=7, out=None)     # out=None: keep results in memory only
    result.summary["produce_latency_p50_ms"], result.frames["produce"]
"""

from sim.experiment.run import Result, run
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Result", "Scenario", "ScenarioError", "load_scenario", "run"]
__version__ = "0.1.0"
