"""`python -m benchmarks [--quick]` (`make bench`): every benchmark in turn, each in its own process, then all
their `name: value` figures together so a run can be compared with another commit's."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

BENCHMARKS = ("inbound", "matcher", "understanding", "search", "stock", "outbox", "campaign", "sweeps")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized runs")
    parser.add_argument("only", nargs="*", help=f"run only these (of {', '.join(BENCHMARKS)})")
    args = parser.parse_args()
    chosen = args.only or [b for b in BENCHMARKS if importlib.util.find_spec(f"benchmarks.{b}") is not None]
    figures: list[str] = []
    failed = []
    for name in chosen:
        print(f"\n=== benchmarks.{name}", flush=True)
        started = time.monotonic()
        command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if args.quick else [])]
        result = subprocess.run(command, capture_output=True, text=True)
        print(result.stdout, end="")
        if result.returncode != 0:
            failed.append(name)
            print(result.stderr[-3000:], file=sys.stderr)
        figures += [line for line in result.stdout.splitlines() if _is_figure(line)]
        print(f"=== benchmarks.{name}: {time.monotonic() - started:.1f} s", flush=True)
    print("\n=== figures")
    print("\n".join(figures))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _is_figure(line: str) -> bool:
    name, sep, _ = line.partition(": ")
    return bool(sep) and name.replace("_", "").isalnum() and name == name.lower() and " " not in name


if __name__ == "__main__":
    sys.exit(main())
