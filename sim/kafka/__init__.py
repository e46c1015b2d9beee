"""Pure Kafka logic: the rules of Apache Kafka 3.9 as plain classes and functions.

Nothing in this package imports SimPy or knows about simulated time beyond the ``now_ms``
arguments it is handed, so every rule can be unit-tested with a few method calls
(the sans-I/O style of h11's ``_state.py``). The SimPy layer in ``sim/cluster/`` drives
these objects and delivers their messages.

Modules:

- ``log``: a partition replica's log (``UnifiedLog``/``LocalLog``/``LogSegment``): offsets,
  segments, high watermark, leader-epoch cache (KIP-101/KIP-279), retention, flushing and
  power loss.
- ``producer_state``: idempotent producer deduplication and sequence checks (KIP-98,
  ``ProducerStateManager``/``ProducerAppendInfo``).
- ``partitioner``: murmur2 key partitioning and the 3.3+ sticky partitioner for null keys
  (KIP-794 ``BuiltInPartitioner``), ``__consumer_offsets`` partition of a group.
- ``assignors``: consumer-group partition assignors: the classic protocol's range, roundrobin,
  sticky and cooperative-sticky (run by the group leader) and KIP-848's server-side uniform and
  range; ``partition.assignment.strategy`` parsing.
"""
