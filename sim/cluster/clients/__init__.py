"""Kafka clients: the producer (accumulator, sender, idempotence, retries) and the consumer (poll
loop, fetch long poll, processing, commits)."""
