"""Understanding benchmark: `python -m benchmarks.understanding [--quick]`.

Over the shipped evaluation set (800+ shopper messages, `dialogs/understanding/eval/utterances.tsv`) it prints
the import and training time of the understanding layer (what `wxshop serve` pays at start-up), the
per-message latency p50/p99 of normalise + classify + entities after warm-up, and the accuracy on the
development fold and on the held-out fifth. The machine is shared, so latency is given twice: wall clock
(what a message waits, descheduling included) and the thread's CPU time (what the work costs). Baseline in
the same run: the built-in keyword table (`dialogs.intents.IntentDetector`), its latency and how many of the
same messages it gets right. DESIGN §7 budget: p99 ≤ 300 µs per message; start-up ≤ 2 s in all. `--quick`
repeats the set once.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from benchmarks.common import print_figures, print_machine_info, summarize_ns, time_each

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pass over the set (smoke run)")
    args = parser.parse_args(argv)
    print("# understanding benchmark" + (" (quick)" if args.quick else ""))
    print_machine_info()

    already = "dialogs.understanding" in sys.modules
    started = time.perf_counter()
    from dialogs.understanding import Understander
    from dialogs.understanding.evaluate import evaluate, shipped_eval_path

    import_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    understander = Understander.build()
    train_ms = (time.perf_counter() - started) * 1000

    path = shipped_eval_path()
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [row[1] for row in rows]
    repeats = 1 if args.quick else 20

    def understand(text: str) -> object:  # entities included (read lazily by `Understanding`)
        return understander.understand(text).entities

    samples = time_each(understand, texts * repeats, warmup=texts)
    latency = summarize_ns(samples)
    cpu = summarize_ns(time_each(understand, texts * repeats, clock=time.thread_time_ns))
    report = evaluate(path, understander)

    from dialogs.intents import IntentDetector
    from dialogs.normalize import normalize

    detector = IntentDetector()

    def keyword(text: str) -> str | None:
        found = detector.detect(text, normalize(text), NOW)
        return found.name if found else None

    baseline = summarize_ns(time_each(keyword, texts * repeats, warmup=texts))
    baseline_hits = sum(keyword(text) == row[0] for text, row in zip(texts, rows, strict=True))

    print(f"# {len(texts)} messages x {repeats}; import {'(already imported) ' if already else ''}and training once")
    print_figures(
        {
            "understanding_import_ms": import_ms,
            "understanding_train_ms": train_ms,
            "understanding_p50_us": latency["p50_us"],
            "understanding_p99_us": latency["p99_us"],
            "understanding_max_us": latency["max_us"],
            "understanding_cpu_p50_us": cpu["p50_us"],
            "understanding_cpu_p99_us": cpu["p99_us"],
            "understanding_dev_accuracy": report.accuracy("dev"),
            "understanding_heldout_accuracy": report.accuracy("heldout"),
            "keyword_table_p50_us": baseline["p50_us"],
            "keyword_table_p99_us": baseline["p99_us"],
            "keyword_table_accuracy": baseline_hits / len(texts),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
