"""Partition leader election and controller-side ISR changes, shared by both controllers.

The controller's record of one partition (KRaft ``PartitionRegistration``, ZooKeeper
``/brokers/topics/T/partitions/P/state``) is an immutable :class:`PartitionState`. Every event a
controller handles is a pure function ``(state, ..., usable, policy) -> PartitionChange``;
``usable`` is the controller's view of the brokers that may lead or stay in an ISR (alive or
unfenced, and not in controlled shutdown). Nothing here imports SimPy or reads a clock.

Theory of operation (kafka-semantics §2.5, §2.8, §3.1, §3.2; Kafka 3.9/4.x)
---------------------------------------------------------------------------
Every change is computed like KRaft's ``PartitionChangeBuilder.build``:

1. **Target ISR.** The caller's proposal: ISR minus a fenced / shutting-down broker, the
   leader's AlterPartition ISR, or ISR ∩ usable for an election. Kept in assignment order.
2. **ELR** (KIP-966, ``maybePopulateTargetElr``; only with ``policy.elr``). If the target ISR has
   >= ``min_isr`` members the ELR (and last known leader) is cleared; otherwise
   ELR := (ELR ∪ old ISR) − target ISR − a broker back from an unclean shutdown. So members leaving
   an ISR that is below min ISR become *eligible leader replicas* (with the HW frozen they hold
   every committed record) and the ISR may become empty. Without ELR the ISR is never emptied: a
   proposal that would empty it leaves the last member in place (``ReplicaStateMachine``
   ``adjustedIsr``; KRaft ``build``: "If ELR is enabled, the ISR is allowed to be empty").
3. **Election** (``electAnyLeader``, ZK ``Election.offlinePartitionLeaderElection``):
   keep the current leader if it is usable and in the target ISR → else the first replica in
   assignment order that is usable and in the target ISR (``'clean'``) → with ELR and an empty
   target ISR, the first usable ELR member in assignment order; it becomes the ISR (``'elr'``)
   → with ELR, ISR and ELR both empty: the last known leader if usable (KIP-966 "balanced
   recovery"; ``'last_known_leader'``) → if ``policy.unclean``, the first usable replica in
   assignment order (``'unclean'``) → else leader := -1 (``'offline'``). The last two leader
   kinds are *unclean*: ISR := [leader], ELR cleared, ``recovering=True``
   (``leaderRecoveryState=RECOVERING``, KIP-704) until :func:`recovery_complete` or the
   leader's next successful AlterPartition.
4. **Epochs.** The leader epoch rises by one iff the leader changes (also to -1 and back). With
   ``policy.bump_epoch_on_isr_shrink`` (the ZooKeeper controller, and KRaft metadata versions
   before 3.6 / KAFKA-15021) a *controller-driven* ISR shrink also bumps it; the leader's own
   AlterPartition never does. The partition epoch (KRaft ``partitionEpoch``, ZK ``zkVersion``)
   rises by one on any change.
5. **Last known leader** (``maybeUpdateLastKnownLeader``, with ELR): when the ISR becomes empty,
   ``last_known_elr := (old leader,)``; it is cleared once the partition has a leader again.

Events: :func:`elect_leader`, :func:`broker_fenced`, :func:`broker_unfenced`,
:func:`broker_unclean_restart`, :func:`alter_partition`, :func:`controlled_shutdown`,
:func:`preferred_leader_election`, :func:`recovery_complete`.

KRaft vs ZooKeeper
------------------
The two controllers share every rule above except two, which ``policy.bump_epoch_on_isr_shrink``
(True = the ZooKeeper controller) decides:

* the leader-epoch bump on a controller-driven ISR shrink (ZK ``LeaderAndIsr.newLeaderAndIsr``
  always bumps; KRaft only on a leader change since KAFKA-15021);
* controlled shutdown of a leader that is the *only* usable ISR member. ZK
  (``KafkaController.doControlledShutdown`` with ``ControlledShutdownPartitionLeaderElection``)
  finds no new leader and leaves the partition alone: the broker stays leader until it exits and
  is then failed like a crashed broker. KRaft (``handleBrokerInControlledShutdown`` →
  ``generateLeaderAndIsrUpdates``) treats the broker like a fenced one: it is not an acceptable
  leader, so the partition goes offline (or ELR / unclean election) at once and the broker is
  told it may shut down because it leads nothing.

ELR is KRaft-only in Kafka; ``elr=True`` with ``bump_epoch_on_isr_shrink=True`` is accepted but
corresponds to no real Kafka configuration.

Simplifications
---------------
* Brokers in an ELR are kept in assignment order (Kafka builds them from a ``HashSet``).
* After an ELR election the ELR is cleared at once when the new ISR already has ``min_isr``
  members (possible only with ``min_isr=1``). Kafka populates the ELR before the election and
  clears it at the next change; the KIP-966 invariant "no ELR while |ISR| >= min ISR" holds here
  after every change instead.
* The last known leader is elected only if usable, as in Kafka 4.1 (KAFKA-19522); 3.7–4.0 elected
  it even when fenced.
* No reassignment (adding/removing replicas), no directory (JBOD) state, no broker epochs in
  AlterPartition (a fenced / shutting-down broker is simply not in ``usable``).

Sources: ``K:metadata/src/main/java/org/apache/kafka/controller/PartitionChangeBuilder.java``,
``ReplicationControlManager.java`` (``handleBrokerFenced``, ``handleBrokerUnfenced``,
``handleBrokerInControlledShutdown``, ``handleBrokerUncleanShutdown``,
``validateAlterPartitionData``); ``K:core/src/main/scala/kafka/controller/Election.scala``,
``PartitionStateMachine.scala``, ``ReplicaStateMachine.scala``, ``KafkaController.scala``;
KIP-497 (AlterPartition), KIP-704 (leader recovery state), KIP-841 (INELIGIBLE_REPLICA),
KIP-966 (eligible leader replicas).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sim.kafka.replica import FENCED_LEADER_EPOCH

__all__ = [
    "ELECTION_KINDS",
    "FENCED_LEADER_EPOCH",
    "INELIGIBLE_REPLICA",
    "INVALID_REQUEST",
    "INVALID_UPDATE_VERSION",
    "NOT_CONTROLLER",
    "NO_LEADER",
    "ElectionPolicy",
    "PartitionChange",
    "PartitionState",
    "alter_partition",
    "broker_fenced",
    "broker_unclean_restart",
    "broker_unfenced",
    "controlled_shutdown",
    "elect_leader",
    "initial_state",
    "invariant_violations",
    "preferred_leader_election",
    "recovery_complete",
]

NO_LEADER = -1
INVALID_UPDATE_VERSION = "INVALID_UPDATE_VERSION"
INELIGIBLE_REPLICA = "INELIGIBLE_REPLICA"
INVALID_REQUEST = "INVALID_REQUEST"
NOT_CONTROLLER = "NOT_CONTROLLER"

# Values of PartitionChange.kind other than None. 'isr' = something changed but not the leader.
ELECTION_KINDS = (
    "isr",
    "clean",
    "unclean",
    "elr",
    "last_known_leader",
    "preferred",
    "controlled",
    "offline",
)
_UNCLEAN_KINDS = ("unclean", "last_known_leader")


@dataclass(frozen=True, slots=True)
class PartitionState:
    """The controller's record of one partition (KRaft ``PartitionRegistration``)."""

    replicas: tuple[int, ...]  # assignment order; replicas[0] is the preferred leader
    isr: tuple[int, ...]  # in assignment order
    leader: int  # NO_LEADER (-1) = offline
    leader_epoch: int
    partition_epoch: int  # +1 on every change of any field (KRaft partitionEpoch / ZK zkVersion)
    elr: tuple[int, ...] = ()  # KIP-966 eligible leader replicas, assignment order
    last_known_elr: tuple[int, ...] = ()  # (last leader,) while the ISR is empty (KIP-966)
    recovering: bool = False  # leaderRecoveryState RECOVERING after an unclean election


@dataclass(frozen=True, slots=True)
class ElectionPolicy:
    """The configs that decide elections for one topic."""

    unclean: bool  # unclean.leader.election.enable (topic overrides broker)
    elr: bool = False  # KIP-966, KRaft only (eligible.leader.replicas.version feature)
    min_isr: int = 1  # effective min.insync.replicas = min(config, RF)
    # True models the ZooKeeper controller: it bumps the leader epoch on every LeaderAndIsr change
    # it makes (KRaft only on a leader change, KAFKA-15021) and keeps a shutting-down sole-ISR
    # leader (see the module docstring).
    bump_epoch_on_isr_shrink: bool = False

    @property
    def zk_controller(self) -> bool:
        """Whether the ZooKeeper controller's behaviour is modelled (see module docstring)."""
        return self.bump_epoch_on_isr_shrink


@dataclass(frozen=True, slots=True)
class PartitionChange:
    """One controller decision: the state before and after, and what kind of change it was.

    ``kind``: None (nothing changed) | 'isr' (ISR/ELR/recovery state only, same leader) |
    'clean' | 'unclean' | 'elr' | 'last_known_leader' | 'preferred' | 'controlled' | 'offline'
    (leader lost, nobody eligible). ``reason`` names the event that caused it.
    """

    before: PartitionState
    after: PartitionState
    kind: str | None
    reason: str = ""

    @property
    def leader_changed(self) -> bool:
        return self.before.leader != self.after.leader

    @property
    def changed(self) -> bool:
        return self.before != self.after


def initial_state(replicas: Iterable[int]) -> PartitionState:
    """A newly created partition: every replica in the ISR, the preferred replica leads, epoch 0."""
    reps = tuple(replicas)
    return PartitionState(reps, isr=reps, leader=reps[0], leader_epoch=0, partition_epoch=0)


# -- events --------------------------------------------------------------------------------------


def elect_leader(
    state: PartitionState, usable: frozenset[int], policy: ElectionPolicy, *, reason: str
) -> PartitionChange:
    """Elect a leader if the current one is not usable (``electAnyLeader``).

    Keeps a usable current leader (ISR untouched). Otherwise the target ISR is ISR ∩ usable (ZK
    ``offlinePartitionLeaderElection``) and the module's election order applies. Without ELR and
    with no usable ISR member the ISR is left as it is.
    """
    if state.leader != NO_LEADER and state.leader in usable and state.leader in state.isr:
        target = state.isr
    else:
        target = tuple(r for r in state.isr if r in usable)
    return _build(state, policy, usable, target, reason=reason, clean_kind="clean")


def broker_fenced(
    state: PartitionState, broker: int, usable: frozenset[int], policy: ElectionPolicy
) -> PartitionChange:
    """A broker was fenced or declared dead (KRaft ``handleBrokerFenced``, ZK ``onBrokerFailure``).

    Only partitions with the broker in the ISR change: it leaves the ISR (not as the last member,
    without ELR; with ELR it may go to the ELR and the ISR may empty) and, if it led, a new
    leader is elected. A broker only in the ELR stays there: ELR members may be offline.
    """
    if broker not in state.isr and broker != state.leader:
        return _unchanged(state, "fenced")
    usable = usable - {broker}
    target = tuple(r for r in state.isr if r != broker)
    return _build(state, policy, usable, target, reason="fenced", clean_kind="clean")


def broker_unfenced(
    state: PartitionState, broker: int, usable: frozenset[int], policy: ElectionPolicy
) -> PartitionChange:
    """A broker was unfenced or came back (KRaft ``handleBrokerUnfenced``, ZK ``onBrokerStartup``).

    A leaderless partition gets an election in which this broker is acceptable: its last ISR
    member (clean) or a usable ELR member gets leadership back; with unclean election on, the
    first usable replica does. A partition that has a leader is not touched: the broker rejoins
    its ISR only through the leader's AlterPartition once caught up.
    """
    if state.leader != NO_LEADER or broker not in state.replicas:
        return _unchanged(state, "unfenced")
    usable = usable | {broker}
    return _build(state, policy, usable, state.isr, reason="unfenced", clean_kind="clean")


def broker_unclean_restart(
    state: PartitionState, broker: int, usable: frozenset[int], policy: ElectionPolicy
) -> PartitionChange:
    """A broker registered after an unclean shutdown (KRaft ``handleBrokerUncleanShutdown``).

    It may have lost its unflushed tail, so (with ELR) it leaves the ISR and the ELR and is not
    an acceptable leader in this change. It can still be the last known leader. Without ELR this
    changes nothing (Kafka skips it and a restarted broker is already out of every ISR except as
    the last member, which the ISR cannot lose without ELR).
    """
    if not policy.elr or (broker not in state.isr and broker not in state.elr):
        return _unchanged(state, "unclean_restart")
    usable = usable - {broker}
    target = tuple(r for r in state.isr if r != broker)
    return _build(
        state,
        policy,
        usable,
        target,
        reason="unclean_restart",
        clean_kind="clean",
        unclean_shutdown=broker,
    )


def alter_partition(
    state: PartitionState,
    leader: int,
    leader_epoch: int,
    partition_epoch: int,
    new_isr: Iterable[int],
    usable: frozenset[int],
    policy: ElectionPolicy,
) -> tuple[str | None, PartitionChange]:
    """The leader's AlterPartition (KIP-497), validated like ``validateAlterPartitionData``.

    Checks in Kafka's order: epochs ahead of ours → NOT_CONTROLLER; stale leader epoch →
    FENCED_LEADER_EPOCH; requester is not the leader → INVALID_REQUEST; stale partition epoch →
    INVALID_UPDATE_VERSION; a member that is not a replica, a duplicate, or the leader missing →
    INVALID_REQUEST; a member that is not usable → INELIGIBLE_REPLICA (KIP-841; Kafka checks every
    member, not only added ones). On success ISR := new_isr in assignment order, ELR per the
    module rules, no leader-epoch bump (in either controller), and the recovery state becomes
    RECOVERED: the leader sends RECOVERED once it has recovered, and a RECOVERING leader may not
    expand the ISR (KIP-704), so any accepted AlterPartition ends the recovery.
    """
    proposed = tuple(new_isr)
    error = _validate_alter_partition(
        state, leader, leader_epoch, partition_epoch, proposed, usable
    )
    if error is not None:
        return error, _unchanged(state, "alter_partition")
    target = _ordered(state.replicas, proposed)
    change = _build(
        state,
        policy,
        usable,
        target,
        reason="alter_partition",
        clean_kind="clean",
        controller_driven=False,
        recovered=True,
    )
    return None, change


def controlled_shutdown(
    state: PartitionState, broker: int, usable: frozenset[int], policy: ElectionPolicy
) -> PartitionChange:
    """A broker asked to shut down (KRaft heartbeat ``wantShutDown``, ZK ``ControlledShutdown``).

    Leadership moves to the first usable ISR replica other than the broker (``'controlled'``)
    and the broker leaves the ISR (not as its last member without ELR). If no other ISR member
    is usable: the ZooKeeper controller keeps the broker as leader (nothing changes; Kafka's
    ``doControlledShutdown`` reports the partition as remaining); KRaft does not accept it as
    leader, so the partition goes offline (with ELR: ISR empty, broker in the ELR) or to an
    unclean election if enabled.
    """
    if broker not in state.isr and broker != state.leader:
        return _unchanged(state, "controlled_shutdown")
    usable = usable - {broker}
    target = tuple(r for r in state.isr if r != broker)
    if policy.zk_controller and broker == state.leader and not any(r in usable for r in target):
        return _unchanged(state, "controlled_shutdown")
    return _build(
        state, policy, usable, target, reason="controlled_shutdown", clean_kind="controlled"
    )


def preferred_leader_election(
    state: PartitionState, usable: frozenset[int], policy: ElectionPolicy
) -> PartitionChange:
    """``auto.leader.rebalance.enable``: the preferred replica (replicas[0]) takes leadership back.

    Only if it is usable, in the ISR and not already leader (ZK
    ``preferredReplicaPartitionLeaderElection``, KRaft ``electPreferredLeader``); ISR unchanged.
    """
    preferred = state.replicas[0]
    if preferred == state.leader or preferred not in usable or preferred not in state.isr:
        return _unchanged(state, "preferred")
    return _build(
        state,
        policy,
        usable,
        state.isr,
        reason="preferred",
        clean_kind="preferred",
        force_leader=preferred,
    )


def recovery_complete(state: PartitionState) -> PartitionChange:
    """The unclean leader finished recovery: RECOVERING → RECOVERED (KIP-704); same leader epoch."""
    if not state.recovering:
        return _unchanged(state, "recovery_complete")
    after = replace(state, recovering=False, partition_epoch=state.partition_epoch + 1)
    return PartitionChange(state, after, "isr", "recovery_complete")


# -- checks --------------------------------------------------------------------------------------


def invariant_violations(state: PartitionState, policy: ElectionPolicy) -> tuple[str, ...]:
    """The structural invariants every reachable state satisfies (empty tuple = all hold)."""
    problems: list[str] = []
    replicas = state.replicas
    if len(set(replicas)) != len(replicas) or not replicas:
        problems.append(f"replicas {replicas} empty or with duplicates")
    for name, members in (("isr", state.isr), ("elr", state.elr)):
        if members != _ordered(replicas, members):
            problems.append(f"{name} {members} not distinct replicas in assignment order")
    if set(state.isr) & set(state.elr):
        problems.append(f"isr {state.isr} and elr {state.elr} overlap")
    if state.leader != NO_LEADER and state.leader not in state.isr:
        problems.append(f"leader {state.leader} not in isr {state.isr}")
    if not policy.elr:
        if not state.isr:
            problems.append("empty isr without ELR")
        if state.elr:
            problems.append(f"elr {state.elr} without ELR")
    elif len(state.isr) >= policy.min_isr and state.elr:
        problems.append(f"elr {state.elr} kept with |isr| {len(state.isr)} >= min_isr")
    if state.recovering and state.leader != NO_LEADER and len(state.isr) != 1:
        problems.append(f"recovering leader with isr {state.isr}")
    return tuple(problems)


# -- internals -----------------------------------------------------------------------------------


def _ordered(replicas: tuple[int, ...], members: Iterable[int]) -> tuple[int, ...]:
    wanted = set(members)
    return tuple(r for r in replicas if r in wanted)


def _unchanged(state: PartitionState, reason: str) -> PartitionChange:
    return PartitionChange(state, state, None, reason)


def _validate_alter_partition(
    state: PartitionState,
    leader: int,
    leader_epoch: int,
    partition_epoch: int,
    new_isr: tuple[int, ...],
    usable: frozenset[int],
) -> str | None:
    if leader_epoch > state.leader_epoch or partition_epoch > state.partition_epoch:
        return NOT_CONTROLLER
    if leader_epoch < state.leader_epoch:
        return FENCED_LEADER_EPOCH
    if leader != state.leader:
        return INVALID_REQUEST
    if partition_epoch < state.partition_epoch:
        return INVALID_UPDATE_VERSION
    if len(set(new_isr)) != len(new_isr) or any(r not in state.replicas for r in new_isr):
        return INVALID_REQUEST
    if state.leader not in new_isr:
        return INVALID_REQUEST
    if any(r not in usable for r in new_isr):
        return INELIGIBLE_REPLICA
    return None


def _target_elr(
    state: PartitionState,
    policy: ElectionPolicy,
    target_isr: tuple[int, ...],
    unclean_shutdown: int | None,
) -> tuple[int, ...]:
    """``maybePopulateTargetElr``: (ELR ∪ old ISR) − target ISR − unclean-shutdown broker."""
    if not policy.elr or len(target_isr) >= policy.min_isr:
        return ()
    candidates = set(state.elr) | set(state.isr)
    candidates -= set(target_isr)
    if unclean_shutdown is not None:
        candidates.discard(unclean_shutdown)
    return _ordered(state.replicas, candidates)


def _choose_leader(
    state: PartitionState,
    policy: ElectionPolicy,
    usable: frozenset[int],
    target_isr: tuple[int, ...],
    target_elr: tuple[int, ...],
) -> tuple[int, str]:
    """``electAnyLeader`` → (leader, how): keep|clean|elr|last_known_leader|unclean|offline."""

    def valid(r: int) -> bool:
        return r in usable and (r in target_isr or (not target_isr and r in target_elr))

    if state.leader != NO_LEADER and valid(state.leader):
        return state.leader, "keep"
    for r in state.replicas:
        if valid(r):
            return r, ("clean" if target_isr else "elr")
    if (
        policy.elr
        and not target_isr
        and not target_elr
        and len(state.last_known_elr) == 1
        and state.last_known_elr[0] in usable
    ):
        return state.last_known_elr[0], "last_known_leader"
    if policy.unclean:
        for r in state.replicas:
            if r in usable:
                return r, "unclean"
    return NO_LEADER, "offline"


def _build(
    state: PartitionState,
    policy: ElectionPolicy,
    usable: frozenset[int],
    target_isr: tuple[int, ...],
    *,
    reason: str,
    clean_kind: str,
    controller_driven: bool = True,
    unclean_shutdown: int | None = None,
    recovered: bool = False,
    force_leader: int | None = None,
) -> PartitionChange:
    """One ``PartitionChangeBuilder.build()``: target ISR → ELR → election → epochs."""
    target_elr = _target_elr(state, policy, target_isr, unclean_shutdown)
    if force_leader is not None:
        leader, how = force_leader, "clean"
    else:
        leader, how = _choose_leader(state, policy, usable, target_isr, target_elr)
    last_known = state.last_known_elr
    recovering = state.recovering and not recovered
    if how == "elr":
        target_isr = (leader,)
        target_elr = tuple(r for r in target_elr if r != leader)
        if len(target_isr) >= policy.min_isr:
            target_elr = ()
    if how in _UNCLEAN_KINDS:
        new_isr: tuple[int, ...] = (leader,)
        target_elr = ()
        last_known = ()
        recovering = True
    elif target_isr or policy.elr:
        new_isr = target_isr
    else:
        new_isr = state.isr  # without ELR the last member is never removed
    if policy.elr:
        if not new_isr and state.isr and state.leader != NO_LEADER:
            last_known = (state.leader,)  # the partition just became leaderless
        elif leader != NO_LEADER:
            last_known = ()
    # KRaft: +1 iff the leader changes. ZK: also on a controller-driven ISR shrink
    # (triggerLeaderEpochBumpForIsrShrinkIfNeeded; ReplicaStateMachine.doRemoveReplicasFromIsr).
    isr_shrank = not set(state.isr) <= set(new_isr)
    leader_epoch = state.leader_epoch
    if leader != state.leader or (
        controller_driven and policy.bump_epoch_on_isr_shrink and isr_shrank
    ):
        leader_epoch += 1
    after = replace(
        state,
        isr=new_isr,
        leader=leader,
        leader_epoch=leader_epoch,
        elr=target_elr,
        last_known_elr=last_known,
        recovering=recovering,
    )
    if after == state:
        return _unchanged(state, reason)
    after = replace(after, partition_epoch=state.partition_epoch + 1)
    if leader == state.leader:
        kind = "isr"
    elif leader == NO_LEADER:
        kind = "offline"
    elif how == "clean":
        kind = clean_kind
    else:
        kind = how
    return PartitionChange(state, after, kind, reason)
