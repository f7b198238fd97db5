"""HTTP load from a separate process: wrk (with a Lua script replaying prepared requests) when it is installed,
else an aiohttp client. Requests come from a file of `path<TAB>body` lines, so every message can carry its own
MsgId and signature; the same file drives every server in a run."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
local lines = {}
local idx = 0
function init(args)
  for line in io.lines(args[1]) do
    local tab = string.find(line, "\t", 1, true)
    lines[#lines + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
  end
end
function request()
  idx = idx + 1
  if idx > #lines then idx = 1 end
  local item = lines[idx]
  return wrk.format("POST", item[1], {["Content-Type"] = "text/xml"}, item[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"errors_status":%d,"errors_other":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    tool: str


def run_load(base_url: str, requests_file: Path, concurrency: int, seconds: float, timeout_s: float = 10) -> LoadResult:
    if shutil.which("wrk"):
        return _wrk(base_url, requests_file, concurrency, seconds, timeout_s)
    command = [sys.executable, "-m", "benchmarks.loadgen", base_url, str(requests_file), str(concurrency), str(seconds)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _parse(out, "aiohttp")


def _wrk(base_url: str, requests_file: Path, concurrency: int, seconds: float, timeout_s: float) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    try:
        command = [
            "wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s:g}s",
            "-s", script.name, base_url, "--", str(requests_file),
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    return _parse(out, "wrk")


def _parse(out: str, tool: str) -> LoadResult:
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    data = json.loads(line[5:])
    seconds = data["duration_us"] / 1e6
    return LoadResult(
        requests=data["requests"],
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=data["errors_status"] + data["errors_other"],
        tool=tool,
    )


async def _aiohttp_load(base_url: str, requests_file: Path, concurrency: int, seconds: float) -> dict[str, int]:
    import aiohttp

    lines = [line.split("\t", 1) for line in requests_file.read_text().splitlines()]
    latencies: list[int] = []
    errors = 0
    counter = 0
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, counter
        while time.monotonic() < deadline:
            path, body = lines[counter % len(lines)]
            counter += 1
            started = time.perf_counter_ns()
            try:
                async with session.post(base_url + path, data=body.encode()) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter_ns() - started) // 1000)

    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0  # noqa: E731
    return {
        "requests": len(latencies),
        "duration_us": int((time.monotonic() - started) * 1e6),
        "errors_status": errors,
        "errors_other": 0,
        "p50_us": pick(0.5),
        "p99_us": pick(0.99),
        "max_us": latencies[-1] if latencies else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="aiohttp load generator (fallback when wrk is absent)")
    parser.add_argument("base_url")
    parser.add_argument("requests_file", type=Path)
    parser.add_argument("concurrency", type=int)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args()
    result = asyncio.run(_aiohttp_load(args.base_url, args.requests_file, args.concurrency, args.seconds))
    print("JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
