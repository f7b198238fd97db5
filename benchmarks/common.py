"""Helpers shared by the benchmark commands: per-call timing, percentiles, machine info, figure lines.

Every benchmark ends with one `name: value` line per figure so runs on different commits can be compared
with grep or diff. Absolute numbers depend on the machine and on where processes land on its cores; only
ratios measured in the same run mean much (DESIGN §7), so print the baseline next to the thing measured.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

__all__ = [
    "figure_lines",
    "machine_info",
    "percentile",
    "print_figures",
    "print_machine_info",
    "rss_bytes",
    "summarize_ns",
    "time_each",
]

T = TypeVar("T")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values: always one of the measured values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def time_each(
    fn: Callable[[T], object],
    items: Iterable[T],
    warmup: Sequence[T] = (),
    clock: Callable[[], int] = time.perf_counter_ns,
) -> list[int]:
    """Nanoseconds of each `fn(item)`, after calling it on `warmup` first; collects garbage before timing.
    `clock=time.thread_time_ns` counts this thread's CPU time, which other processes do not inflate."""
    for item in warmup:
        fn(item)
    gc.collect()
    samples = []
    for item in items:
        started = clock()
        fn(item)
        samples.append(clock() - started)
    return samples


def summarize_ns(samples: Iterable[int]) -> dict[str, float]:
    """p50, p99 and max of nanosecond samples, in microseconds."""
    ordered = sorted(samples)
    return {
        "p50_us": percentile(ordered, 50) / 1000,
        "p99_us": percentile(ordered, 99) / 1000,
        "max_us": ordered[-1] / 1000,
    }


def rss_bytes() -> int | None:
    """Resident set size of this process now (Linux), or None where /proc is not available."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "cpus": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def print_machine_info() -> None:
    for key, value in machine_info().items():
        print(f"# {key}: {value}")


def _format(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"


def figure_lines(figures: Mapping[str, float]) -> list[str]:
    """`name: value` lines, in the order given; names are lower_snake_case and carry their unit."""
    return [f"{name}: {_format(value)}" for name, value in figures.items()]


def print_figures(figures: Mapping[str, float]) -> None:
    print("\n".join(figure_lines(figures)))
    sys.stdout.flush()
