"""Units in scenario files: durations, sizes, rates and bandwidths.

Kafka configs carry their unit in the name (`linger.ms`, `segment.bytes`); scenario keys such as
`duration`, `record_size` or `rate` take a number with a unit instead, so a reader sees "250ms" or
"16KiB" rather than a bare number whose unit must be remembered.

Rules (each parser raises ValueError with a one-line message naming the accepted forms):

- duration -> float milliseconds. Units ns, us (µs), ms, s, m (min), h, d. A bare number is ms
  (the simulator's time unit), so `linger.ms: 5` and `linger.ms: 5ms` mean the same.
- size -> int bytes. B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024); a bare
  number is bytes. The result must be a whole number of bytes.
- rate -> float per second. `1000/s`, `1k/s`, `2.5k/s`, `1M/s`, `100/ms`, `60/m`, `10/h`;
  a bare number is per second.
- bandwidth -> float bytes per millisecond. `125MB/s`, `1GiB/s`, `10Mbit/s`, `1Gbps`;
  a bare number is bytes per ms (the simulator's internal unit).

`format_*` functions write a value back in a form the parsers read (used for messages and
round-trip tests). Booleans are never numbers here, although Python's bool is an int.
"""

from __future__ import annotations

import math
import re

from sim.scenario.errors import short_repr

__all__ = [
    "format_bandwidth",
    "format_duration",
    "format_rate",
    "format_size",
    "parse_bandwidth",
    "parse_duration",
    "parse_rate",
    "parse_size",
]

_NUM = r"[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RE = re.compile(rf"^\s*(?P<num>{_NUM})\s*(?P<unit>[^\d\s].*?)?\s*$")

DURATION_UNITS_MS: dict[str, float] = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "min": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
}
SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_COUNT_PREFIX: dict[str, float] = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_PER_UNIT_S: dict[str, float] = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_BIT_UNITS: dict[str, float] = {"bit": 1 / 8, "kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8}
_BPS_UNITS: dict[str, float] = {"bps": 1 / 8, "kbps": 1e3 / 8, "mbps": 1e6 / 8, "gbps": 1e9 / 8}


def _split(value: object, what: str, example: str) -> tuple[float, str]:
    """Split `value` into (number, unit text); a bare int/float gives unit ''."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a {what} such as {example!r}, got {short_repr(value)}")
    if isinstance(value, int | float):
        number = float(value)
        unit = ""
    else:
        m = _RE.match(value)
        if m is None:
            raise ValueError(f"expected a {what} such as {example!r}, got {short_repr(value)}")
        number = float(m.group("num").replace("_", ""))
        unit = m.group("unit") or ""
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {short_repr(value)}")
    return number, unit.strip()


def parse_duration(value: object) -> float:
    """'250ms', '1.5s', '2m', '1h', '500us', '100ns' (or a bare number of ms) -> float ms."""
    number, unit = _split(value, "duration", "250ms")
    if unit == "":
        return number
    factor = DURATION_UNITS_MS.get(unit)
    if factor is None:
        units = ", ".join(DURATION_UNITS_MS)
        raise ValueError(
            f"unknown duration unit {short_repr(unit)} in {short_repr(value)} (use one of: {units})"
        )
    return number * factor


def parse_size(value: object) -> int:
    """'200B', '16KiB', '1MiB', '1MB' (=10**6), '1GiB' (or a bare number of bytes) -> int bytes."""
    number, unit = _split(value, "size", "16KiB")
    factor = 1 if unit == "" else SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(
            f"unknown size unit {short_repr(unit)} in {short_repr(value)} "
            "(use B, KB, MB, GB, KiB, MiB, GiB)"
        )
    total = number * factor
    if total != math.floor(total):
        raise ValueError(f"size {short_repr(value)} is not a whole number of bytes")
    return int(total)


def parse_rate(value: object) -> float:
    """'1000/s', '1k/s', '2.5k/s', '100/ms', '1M/s' (or a bare number per second) -> per second."""
    number, unit = _split(value, "rate", "1000/s")
    if unit == "":
        per_s = number
    else:
        m = re.fullmatch(r"(?P<prefix>[kKMG]?)\s*/\s*(?P<per>\w+)", unit)
        if m is None or m.group("per") not in _PER_UNIT_S:
            raise ValueError(
                f"bad rate {short_repr(value)}: expected a count per time unit such as '1000/s', "
                "'2.5k/s', '1M/s' or '100/ms'"
            )
        per_s = number * _COUNT_PREFIX[m.group("prefix")] / _PER_UNIT_S[m.group("per")]
    if per_s < 0:
        raise ValueError(f"rate must be >= 0, got {short_repr(value)}")
    return per_s


def parse_bandwidth(value: object) -> float:
    """'125MB/s', '1GiB/s', '10Mbit/s', '1Gbps' (or a bare number of bytes/ms) -> bytes per ms."""
    number, unit = _split(value, "bandwidth", "125MB/s")
    if unit == "":
        bytes_per_ms = number
    else:
        low = unit.lower()
        if low in _BPS_UNITS:
            bytes_per_ms = number * _BPS_UNITS[low] / 1000.0
        else:
            m = re.fullmatch(r"(?P<size>[a-z]+)\s*/\s*(?P<per>[a-zµ]+)", low)
            if m is None or m.group("per") not in _PER_UNIT_S:
                raise ValueError(
                    f"bad bandwidth {short_repr(value)}: expected a size per time unit such as "
                    "'125MB/s', '1GiB/s' or '10Mbit/s'"
                )
            size = m.group("size")
            factor = SIZE_UNITS.get(size, _BIT_UNITS.get(size))
            if factor is None:
                raise ValueError(
                    f"unknown size unit {short_repr(size)} in bandwidth {short_repr(value)} "
                    "(use B, KB, MB, GB, KiB, MiB, GiB, kbit, Mbit, Gbit)"
                )
            bytes_per_ms = number * factor / (_PER_UNIT_S[m.group("per")] * 1000.0)
    if bytes_per_ms <= 0:
        raise ValueError(f"bandwidth must be > 0, got {short_repr(value)}")
    return bytes_per_ms


def _num(x: float) -> str:
    """Shortest text for a number: 5.0 -> '5', 0.25 -> '0.25'."""
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)


def format_duration(ms: float) -> str:
    """Milliseconds -> the largest unit that represents `ms` exactly ('1.5s' stays '1500ms')."""
    for unit in ("d", "h", "m", "s"):
        factor = DURATION_UNITS_MS[unit]
        if ms != 0 and ms % factor == 0:
            return f"{_num(ms / factor)}{unit}"
    return f"{_num(ms)}ms"


def format_size(n: int) -> str:
    """Bytes -> '16KiB', '1MB' or '200B' (exact binary or decimal unit, else bytes)."""
    for unit in ("TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "KB"):
        factor = SIZE_UNITS[unit.lower()]
        if n != 0 and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


def format_rate(per_s: float) -> str:
    """Per second -> '1000/s' (a plain count per second, exact)."""
    return f"{_num(per_s)}/s"


def format_bandwidth(bytes_per_ms: float) -> str:
    """Bytes per ms -> 'NB/s' when exact, else the bare bytes-per-ms number."""
    per_s = bytes_per_ms * 1000.0
    if per_s == int(per_s) and per_s / 1000.0 == bytes_per_ms:
        return f"{_num(per_s)}B/s"
    return _num(bytes_per_ms)
