"""Bodies of the Kafka requests and responses the simulated nodes exchange.

Names follow Kafka's protocol (ProduceRequest, FetchRequest, ListOffsets, OffsetCommit, ...).
Only the fields the simulation uses are carried; sizes are estimated from the record batches plus
a fixed header so that bandwidth and per-byte handling costs are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.kafka.election import PartitionState
from sim.kafka.log import RecordBatch
from sim.kafka.replica import IsrProposal

REQUEST_HEADER_BYTES = 64
PARTITION_HEADER_BYTES = 32
BATCH_HEADER_BYTES = 61  # Kafka's RecordBatch v2 header (DefaultRecordBatch.RECORD_BATCH_OVERHEAD)
EARLIEST_TIMESTAMP = -2  # ListOffsetsRequest.EARLIEST_TIMESTAMP
LATEST_TIMESTAMP = -1  # ListOffsetsRequest.LATEST_TIMESTAMP
CONSUMER_REPLICA_ID = -1


@dataclass(slots=True)
class ProducePartition:
    topic: str
    partition: int
    batch: RecordBatch
    batch_id: int  # the producer's own id for the batch (for the history only)


@dataclass(slots=True)
class ProduceRequest:
    acks: str  # "0" | "1" | "all"
    timeout_ms: float  # the producer's request.timeout.ms (ProduceRequest.timeoutMs)
    partitions: list[ProducePartition]


@dataclass(slots=True)
class ProducePartitionResponse:
    topic: str
    partition: int
    error: str | None
    base_offset: int
    leader_id: int | None = None  # KIP-951: the current leader, when NOT_LEADER_OR_FOLLOWER


@dataclass(slots=True)
class ProduceResponse:
    partitions: list[ProducePartitionResponse]


@dataclass(slots=True)
class FetchPartition:
    topic: str
    partition: int
    fetch_offset: int
    current_leader_epoch: int  # KIP-320 fencing; -1 = not checked
    last_fetched_epoch: int  # KIP-595/IBP 2.7 divergence check; -1 = none
    max_bytes: int


@dataclass(slots=True)
class FetchRequest:
    replica_id: int  # follower broker id, or -1 for a consumer
    max_wait_ms: float
    min_bytes: int
    max_bytes: int
    partitions: list[FetchPartition]


@dataclass(slots=True)
class FetchPartitionResponse:
    topic: str
    partition: int
    error: str | None
    high_watermark: int
    log_start_offset: int
    batches: list[RecordBatch] = field(default_factory=list)
    diverging_epoch: tuple[int, int] | None = None  # (epoch, end offset)
    # With OFFSET_OUT_OF_RANGE to a follower: the leader's log end (Kafka's follower asks for it
    # with ListOffsets in fetchOffsetAndTruncate; carried here to save the round trip).
    leader_log_end_offset: int = -1


@dataclass(slots=True)
class FetchResponse:
    partitions: list[FetchPartitionResponse]

    @property
    def size(self) -> int:
        total = REQUEST_HEADER_BYTES
        for part in self.partitions:
            total += PARTITION_HEADER_BYTES
            for batch in part.batches:
                total += batch.size_bytes
        return total


@dataclass(slots=True)
class PartitionMetadata:
    topic: str
    partition: int
    leader_id: int | None
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(slots=True)
class MetadataRequest:
    topics: list[str]


@dataclass(slots=True)
class MetadataResponse:
    brokers: dict[int, str]
    partitions: list[PartitionMetadata]


@dataclass(slots=True)
class ListOffsetsRequest:
    topic: str
    partition: int
    timestamp: int  # EARLIEST_TIMESTAMP | LATEST_TIMESTAMP


@dataclass(slots=True)
class ListOffsetsResponse:
    error: str | None
    offset: int


@dataclass(slots=True)
class OffsetCommitRequest:
    group: str
    member: str
    offsets: list[tuple[str, int, int]]  # (topic, partition, next offset to read)


@dataclass(slots=True)
class OffsetCommitResponse:
    error: str | None


@dataclass(slots=True)
class OffsetFetchRequest:
    group: str
    partitions: list[tuple[str, int]]


@dataclass(slots=True)
class OffsetFetchResponse:
    offsets: dict[tuple[str, int], int]  # missing = no committed offset


@dataclass(slots=True)
class AlterPartitionRequest:
    """KIP-497: a partition leader asks the controller to change the ISR."""

    broker_id: int
    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]

    @classmethod
    def from_proposal(cls, broker_id: int, proposal: IsrProposal) -> AlterPartitionRequest:
        return cls(
            broker_id,
            proposal.topic,
            proposal.partition,
            proposal.leader_epoch,
            proposal.partition_epoch,
            proposal.new_isr,
        )


@dataclass(slots=True)
class AlterPartitionResponse:
    error: str | None
    leader_hint: int | None = None  # KRaft: NOT_CONTROLLER names the active controller
    state: PartitionState | None = None  # the partition as the controller has it now


@dataclass(slots=True)
class OffsetsForLeaderEpochRequest:
    """KIP-320: where does ``leader_epoch`` end in the leader's log (position validation)."""

    topic: str
    partition: int
    current_leader_epoch: int
    leader_epoch: int


@dataclass(slots=True)
class OffsetsForLeaderEpochResponse:
    error: str | None
    leader_epoch: int = -1
    end_offset: int = -1
