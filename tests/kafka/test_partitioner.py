"""murmur2 key partitioning, the KIP-794 sticky partitioner, __consumer_offsets partitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.partitioner import (
    KeyPartitionTable,
    StickyPartitioner,
    adaptive_weights,
    consumer_offsets_partition,
    java_string_hashcode,
    kafka_partition,
    key_bytes,
    murmur2,
    murmur2_rows,
    partition_for_keys,
    to_positive,
)

# K:clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java testMurmur2
UTILS_TEST_VECTORS = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}

# dpkp/kafka-python test/test_partitioner.py: "compare with output from Kafka's ... Partitioner"
KAFKA_PYTHON_1000 = {
    b"": 681,
    b"a": 524,
    b"ab": 434,
    b"abc": 107,
    b"123456789": 566,
    b"\x00 ": 742,
}


@pytest.mark.parametrize(("text", "expected"), sorted(UTILS_TEST_VECTORS.items()))
def test_murmur2_kafka_utils_vectors(text: str, expected: int) -> None:
    assert murmur2(text.encode("utf-8")) == expected


@pytest.mark.parametrize(("key", "expected"), sorted(KAFKA_PYTHON_1000.items()))
def test_partition_kafka_python_vectors(key: bytes, expected: int) -> None:
    assert kafka_partition(key, 1000) == expected


def test_to_positive_is_not_abs() -> None:
    assert to_positive(-973932308) == 1173551340
    assert to_positive(-(2**31)) == 0
    assert to_positive(5) == 5


def py_murmur2_reference(data: bytes) -> int:
    """Straight transcription of Utils.murmur2 (byte by byte), independent of the fast version."""
    m, r = 0x5BD1E995, 24
    mask = 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(length // 4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    rem = length % 4
    base = length & ~3
    if rem == 3:
        h ^= data[base + 2] << 16
    if rem >= 2:
        h ^= data[base + 1] << 8
    if rem >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h >= 1 << 31 else h


@given(st.binary(max_size=64))
def test_murmur2_matches_reference(data: bytes) -> None:
    assert murmur2(data) == py_murmur2_reference(data)


@settings(max_examples=50)
@given(
    st.integers(0, 12).flatmap(lambda n: st.lists(st.binary(min_size=n, max_size=n), min_size=1))
)
def test_vectorised_murmur2_matches_scalar(keys: list[bytes]) -> None:
    rows = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), len(keys[0]))
    assert murmur2_rows(rows).tolist() == [murmur2(k) for k in keys]


def test_key_partition_table_matches_scalar() -> None:
    table = KeyPartitionTable(12_345, 7)
    assert len(table) == 12_345
    sample = [0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 12_344]
    assert [table.partition(i) for i in sample] == [
        kafka_partition(key_bytes(i), 7) for i in sample
    ]
    assert key_bytes(42) == b"key-42"
    expected = np.array([kafka_partition(key_bytes(i), 7) for i in range(2000)])
    assert np.array_equal(table.partitions[:2000], expected)


def test_partition_for_keys_bytes_and_indices() -> None:
    keys = [b"", b"a", b"ab", b"abc", b"123456789", b"\x00 "]
    assert partition_for_keys(keys, 1000).tolist() == [681, 524, 434, 107, 566, 742]
    idx = np.array([3, 500, 3, 77], dtype=np.int64)
    expected = [kafka_partition(key_bytes(int(i)), 12) for i in idx]
    assert partition_for_keys(idx, 12).tolist() == expected
    assert partition_for_keys(np.array([], dtype=np.int64), 12).tolist() == []


def test_sticky_partitioner_fills_batch_size_then_switches() -> None:
    sp = StickyPartitioner(6, 16_384, np.random.default_rng(1))
    chunks = sp.partition_chunks(1000, 100, available=[0, 1, 2, 3, 4, 5])
    assert sum(n for _, n in chunks) == 1000
    # 164 records of 100 B reach 16 384 B; consecutive equal picks are merged
    assert all(n % 164 == 0 for _, n in chunks[:-1])
    more = sp.partition_chunks(10, 100, available=[0, 1, 2, 3, 4, 5])
    assert more[0][0] == chunks[-1][0]  # sticky across calls
    assert sum(n for _, n in more) == 10


def test_sticky_partitioner_respects_availability_and_weights() -> None:
    sp = StickyPartitioner(6, 1000, np.random.default_rng(7))
    picks = {p for p, _ in sp.partition_chunks(500, 100, available=[1, 4])}
    assert picks <= {1, 4} and picks == {1, 4}
    weighted = {p for p, _ in sp.partition_chunks(500, 100, [1, 4, 5], weights=[0, 3, 0])}
    assert weighted == {4}
    assert adaptive_weights([0, 5, 2]) == [6, 1, 4]
    # no partition has a leader: any partition
    assert {p for p, _ in sp.partition_chunks(2000, 100, available=[])} <= set(range(6))


def test_sticky_partitioner_is_deterministic_per_seed() -> None:
    a = StickyPartitioner(8, 500, np.random.default_rng(3)).partition_chunks(300, 60)
    b = StickyPartitioner(8, 500, np.random.default_rng(3)).partition_chunks(300, 60)
    assert a == b
    sp = StickyPartitioner(8, 500, np.random.default_rng(3))
    assert [sp.partition(60) for _ in range(300)] == [p for p, n in a for _ in range(n)]


@given(st.text(max_size=30))
def test_java_string_hashcode_formula(s: str) -> None:
    units = [
        int.from_bytes(s.encode("utf-16-be")[i : i + 2], "big")
        for i in range(0, len(s.encode("utf-16-be")), 2)
    ]
    h = sum(u * pow(31, len(units) - 1 - i, 1 << 32) for i, u in enumerate(units)) % (1 << 32)
    assert java_string_hashcode(s) == (h - (1 << 32) if h >= 1 << 31 else h)


def test_java_string_hashcode_and_offsets_partition() -> None:
    assert java_string_hashcode("") == 0
    assert java_string_hashcode("hello") == 99162322
    assert java_string_hashcode("polygenelubricants") == -(2**31)
    assert consumer_offsets_partition("polygenelubricants") == 0  # Utils.abs(MIN_VALUE) == 0
    assert consumer_offsets_partition("hello") == 99162322 % 50
    assert consumer_offsets_partition("hello", 7) == 99162322 % 7
    h = java_string_hashcode("my-group")
    assert consumer_offsets_partition("my-group") == abs(h) % 50
