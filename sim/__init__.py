"""kafka-sim: a discrete-event simulator of Apache Kafka clusters on SimPy.

Public API (docs/python-api.md)::

    import sim
    scenario = sim.load_scenario("scenarios/hello-kafka.yaml", {"duration": "10s"})
    acks1 = scenario.with_overrides({"producers.0.config.acks": "1", "seed": 3})
    result = sim.run(acks1)                      # out=None: nothing written to disk
    result.summary["produce_latency_p50_ms"], result.tables["produce"], result.verdict.ok
    result.plot.latency_cdf()                    # every plot of sim.analysis.plots
    again = sim.load_result("results/hello-kafka/seed3-...")   # a folder `kafka-sim run` wrote
"""

from sim.experiment.result import IncompleteResultsError, Result, load_result
from sim.experiment.run import run
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "IncompleteResultsError",
    "Result",
    "Scenario",
    "ScenarioError",
    "load_result",
    "load_scenario",
    "run",
]
__version__ = "0.1.0"
