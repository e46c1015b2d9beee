"""Cluster coordination: KRaft (controller quorum on Raft, and the broker side that registers,
heartbeats and replays the metadata log) and ZooKeeper mode (the ensemble, the controller hosted
by a broker, and the broker side of sessions and LeaderAndIsr)."""
