"""A broker's side of KRaft: registration, heartbeats, the metadata log, AlterPartition.

Theory of operation (kafka-semantics §3.2, ``BrokerLifecycleManager``, ``BrokerMetadataPublisher``)
----------------------------------------------------------------------------------------------
* The broker fetches committed metadata records from the active controller (long poll) and
  applies them to its own ``MetadataImage``; partition records for replicas it hosts become
  ``become_leader`` / ``become_follower`` calls. After a restart it publishes nothing until it has
  caught up with the log (it would otherwise act on stale leadership).
* It heartbeats every ``broker.heartbeat.interval.ms`` with its applied metadata offset; the
  controller unfences it once caught up to its registration and fences it when heartbeats stop
  for ``broker.session.timeout.ms``. A restarted broker registers again (new broker epoch).
  The first heartbeat comes at a phase drawn in [0, interval) (``Node.phase``): brokers do not
  boot in step, so a crash at a round time does not always land just before a heartbeat.
* ISR changes go to the controller as AlterPartition requests; the answer comes once committed.
* Clients' Metadata requests are answered from this broker's image, so a broker cut off from
  the controller keeps serving its old view (the zombie leader of §3.2.8).
* Like Kafka's ``BrokerToControllerChannelManager``, heartbeats, AlterPartition and the
  metadata fetch travel on separate channels, so none waits behind another's long poll.
* It finds the active controller by the hints in ``NOT_CONTROLLER`` answers, else by trying
  the voters in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.cluster.coordination.controller_kraft import (
    MAX_FETCH_WAIT_MS,
    BrokerHeartbeatRequest,
    BrokerRegistrationRequest,
    ControllerResponse,
    MetadataFetchRequest,
    MetadataFetchResponse,
    bootstrap_records,
)
from sim.cluster.coordination.metadata import (
    MetadataImage,
    PartitionRecord,
    RegisterBrokerRecord,
    partition_metadata,
)
from sim.cluster.net.messages import (
    AlterPartitionRequest,
    AlterPartitionResponse,
    PartitionMetadata,
)
from sim.kafka.replica import IsrProposal

if TYPE_CHECKING:
    from sim.cluster.broker.broker import Broker
    from sim.scenario import ClusterSpec, TopicSpec

REQUEST_BYTES = 64


class KRaftBrokerClient:
    """Plugged into a Broker as its ``controller``."""

    def __init__(self, broker: Broker, cluster: ClusterSpec, topics: list[TopicSpec]) -> None:
        self.broker = broker
        cfg = cluster.config
        self.controllers = cluster.controllers
        self.heartbeat_interval_ms = float(cfg["broker.heartbeat.interval.ms"])
        self.request_timeout_ms = float(cfg["controller.quorum.request.timeout.ms"])
        self.retry_backoff_ms = float(cfg["controller.quorum.retry.backoff.ms"])
        self.truncate_to_hw = cluster.protocol.truncation == "high-watermark"
        self.image = MetadataImage()
        for offset, record in enumerate(bootstrap_records(cluster.brokers, topics)):
            self.image.apply(record, offset)
            if isinstance(record, RegisterBrokerRecord) and record.broker_id == broker.broker_id:
                self.broker_epoch = offset
        self.controller_hint = 0
        self.caught_up = True
        self.registered = True
        self.fenced = False
        self.want_shutdown = False
        self.unclean_shutdown = False

    # -- the Broker-facing interface (broker.ControllerClient) --
    def live_brokers(self) -> list[int]:
        return self.image.live_brokers()

    def metadata_for(self, topics: list[str]) -> list[PartitionMetadata]:
        return partition_metadata(self.image.partitions, topics)

    def alter_partition(self, broker: Broker, proposal: IsrProposal) -> None:
        body = AlterPartitionRequest.from_proposal(broker.broker_id, proposal)

        def done(response: AlterPartitionResponse | None, error: str | None) -> None:
            if response is None or response.error == "NOT_CONTROLLER":
                self._redirect(response.leader_hint if response else None)
                # Kafka retries AlterPartition until it succeeds or metadata supersedes it.
                broker.after(self.retry_backoff_ms, self._retry_alter, proposal)
                return
            state = response.state
            isr = state.isr if state is not None else ()
            epoch = state.partition_epoch if state is not None else -1
            broker.on_alter_partition_response(proposal, response.error, isr, epoch)

        broker.send_request(
            self._controller(),
            "AlterPartition",
            body,
            REQUEST_BYTES,
            self.request_timeout_ms,
            done,
            connection="alter-partition",
        )

    def _retry_alter(self, proposal: IsrProposal) -> None:
        replica = self.broker.partitions.get((proposal.topic, proposal.partition))
        if replica is not None and replica.pending_isr is proposal:
            self.alter_partition(self.broker, proposal)

    # -- lifecycle --
    def start(self) -> None:
        """Time 0: the bootstrap roles, then heartbeats and the metadata fetch loop, each at its
        own phase (the broker process did not start exactly at t = 0)."""
        self._publish_all()
        broker = self.broker
        first_heartbeat = broker.phase(self.heartbeat_interval_ms)
        if first_heartbeat > 0.0:
            broker.after(first_heartbeat, self._heartbeat)
        else:
            self._heartbeat()
        first_fetch = broker.phase(MAX_FETCH_WAIT_MS)
        if first_fetch > 0.0:
            broker.after(first_fetch, self._fetch)
        else:
            self._fetch()

    def restart(self, unclean: bool) -> None:
        """After a crash: register again, catch up, then take roles from the image."""
        self.caught_up = False
        self.registered = False
        self.fenced = True
        self.want_shutdown = False
        self.unclean_shutdown = unclean
        self._register()

    def _controller(self) -> str:
        return f"controller-{self.controller_hint % self.controllers}"

    def _redirect(self, hint: int | None) -> None:
        if hint is not None and hint >= 0:
            self.controller_hint = hint
        else:
            self.controller_hint = (self.controller_hint + 1) % self.controllers

    def _register(self) -> None:
        body = BrokerRegistrationRequest(
            self.broker.broker_id, self.broker.incarnation, self.unclean_shutdown
        )
        self.broker.send_request(
            self._controller(),
            "BrokerRegistration",
            body,
            REQUEST_BYTES,
            self.request_timeout_ms,
            self._on_registered,
            connection="heartbeat",
        )

    def _on_registered(self, response: ControllerResponse | None, error: str | None) -> None:
        if response is not None and response.error == "DUPLICATE_BROKER_REGISTRATION":
            self.broker.after(self.heartbeat_interval_ms / 4, self._register)
            return
        if response is None or response.error is not None:
            self._redirect(response.leader_hint if response else None)
            self.broker.after(self.retry_backoff_ms, self._register)
            return
        self.broker_epoch = response.broker_epoch
        self.registered = True
        self.unclean_shutdown = False
        self._heartbeat()
        self._fetch()

    # -- heartbeats --
    def _heartbeat(self) -> None:
        """Every broker.heartbeat.interval.ms while registered."""
        if not self.registered:
            return
        self._heartbeat_now()
        self.broker.after(self.heartbeat_interval_ms, self._heartbeat)

    def _on_heartbeat(self, response: ControllerResponse | None, error: str | None) -> None:
        if response is None:
            self._redirect(None)
            return
        if response.error == "NOT_CONTROLLER":
            self._redirect(response.leader_hint)
            return
        if response.error == "STALE_BROKER_EPOCH":
            self.registered = False
            self._register()
            return
        self.fenced = response.fenced
        if self.want_shutdown and response.shutdown_ready:
            self.broker.finish_controlled_shutdown()

    def begin_controlled_shutdown(self) -> None:
        self.want_shutdown = True
        self._heartbeat_now()

    def _heartbeat_now(self) -> None:
        body = BrokerHeartbeatRequest(
            self.broker.broker_id, self.broker_epoch, self.image.offset, self.want_shutdown
        )
        self.broker.send_request(
            self._controller(),
            "BrokerHeartbeat",
            body,
            REQUEST_BYTES,
            self.request_timeout_ms,
            self._on_heartbeat,
            connection="heartbeat",
        )

    # -- the metadata log --
    def _fetch(self) -> None:
        body = MetadataFetchRequest(self.image.offset)
        self.broker.send_request(
            self._controller(),
            "MetadataFetch",
            body,
            REQUEST_BYTES,
            self.request_timeout_ms + 500.0,
            self._on_fetch,
            connection="metadata",
        )

    def _on_fetch(self, response: MetadataFetchResponse | None, error: str | None) -> None:
        if response is None or response.error is not None:
            self._redirect(response.leader_hint if response else None)
            self.broker.after(self.retry_backoff_ms, self._fetch)
            return
        if response.start_offset == self.image.offset:
            for i, record in enumerate(response.records):
                self._apply(record, response.start_offset + i)
        if not self.caught_up and self.image.offset >= response.high_watermark:
            self.caught_up = True
            self._publish_all()
        self._fetch()

    def _apply(self, record: Any, offset: int) -> None:
        self.image.apply(record, offset)
        if not self.caught_up:
            return
        if isinstance(record, PartitionRecord):
            self._publish((record.topic, record.partition))
        else:
            self._publish_eligibility()

    def _publish_eligibility(self) -> None:
        """Fenced or unregistered brokers are not eligible (§2.4/§2.5): they neither hold back
        a leader's HW as caught-up joiners nor rejoin an ISR."""
        usable = self.image.usable()
        ineligible = frozenset(b for b in self.image.brokers if b not in usable)
        for key in sorted(self.broker.partitions):
            replica = self.broker.partitions[key]
            if replica.ineligible != ineligible:
                replica.ineligible = ineligible
                if replica.is_leader:
                    self.broker.high_watermark_maybe_moved(key)

    def _publish_all(self) -> None:
        self._publish_eligibility()
        for key in sorted(self.broker.partitions):
            self._publish(key)

    def _publish(self, key: tuple[str, int]) -> None:
        """Make the local replica match the partition's state in the image."""
        state = self.image.partitions.get(key)
        if state is not None:
            self.broker.apply_partition_state(key, state, truncate_to_hw=self.truncate_to_hw)
