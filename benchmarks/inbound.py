"""Inbound benchmark: `wxshop serve` against a bare WeRoBot echo bot, driven by the same signed messages from a
separate process, in the same run, so only the ratios are compared across machines (DESIGN.md §7).

Mixes: `keyword` (a plain text message answered from the text handler), `flow_db` (a mid-flow dialog step with
a database read: followers who opened a product card answer "红色 M", a SKU made sold out before the server
starts, so the browse flow matches the words against the product's specs, reads that SKU's stock, says it is sold
out and stays where it is; every message reads the dialog state, queries the SKU and writes the state back),
`flow` (the same followers answer "红色", which fits three SKUs: matched against the serve process's copy of the
product's specs, no query, the question asked again), `event_db` (first follows of distinct followers: a
database write, a member row and a gift per message), `aes` (the keyword mix in safe mode, both servers
encrypting). Every conversation path, from fresh followers (no open flow) and from followers who have just
seen a search's product list (`*_list`, 5,000 of them, brought there before the run): `keyword_list` (the
greeting answered mid-list, the list's question asked again), `search` and `search_list` (eight searches in
turn, such as "红色连衣裙" or "200以内的连衣裙", most of them bare words: a new list), `knowledge` and
`knowledge_list` ("我的积分": the points answer, from the shop's config and the member's balance), `fallback`
(words nothing understands, each from a new follower: the clarifying question) and `fallback_rounds` (the
same words from 5,000 followers in turn, so the run goes through every round: clarify, the default reply,
the offer of a human). Our server runs on the demo catalog, imported through the CLI before it
starts. Plus `overload`:
the keyword mix at 10× the reference concurrency against our server, whose slowest answer must stay under the
5-second deadline; and `hostile`: the keyword mix against our server while another client sends hostile bodies
at 10/s (a 700 KB document nested 100,000 deep, 200,000 empty elements, a 315 KB text), the first two to be
refused with 400 and the text answered from its first 2048 bytes, while the normal p99 stays within 20 ms.

Each server gets a one-second warm-up first (its own messages, so nothing measured is a duplicate): the figures
are steady state, not a process's one-off start (lazy imports, dictionaries, first connections).

`cpu us/msg` is the server process's user + system CPU time (from /proc) over the run divided by the messages
answered: on a shared machine it moves less than the throughput does.

Run: `python -m benchmarks.inbound [--quick]`. With `--quick` the request files are short and wrk replays them
(retries answered from the dedup cache), so its figures only prove that it runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import xmltodict
from wechatpy.crypto import WeChatCrypto

from benchmarks.loadgen import LoadResult, run_load
from bot.sandbox.follower import render_xml, sign
from bot.sandbox.ports import free_port

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "bot" / "sandbox" / "demo_data" / "catalog.csv"
FLOW_FOLLOWERS = 500
FLOW_PRODUCT = "法式碎花雪纺连衣裙"  # P001
FLOW_SKU = "P001-02"  # 颜色:红色;尺码:M, made sold out
FLOW_ANSWER = "红色 M"
LIST_FOLLOWERS = 5000
LIST_QUERY = "连衣裙"  # brings the `*_list` followers to a product list
SEARCH_TEXTS = ("红色连衣裙", "黑色连衣裙", "蓝牙耳机", "200以内的连衣裙", "红色的裙子", "运动鞋", "手机", "耳机")
# Searches that never repeat (a colour, a product word and a price cap, the cap counting up): no search is
# answered from the process's memory of searches already run, as it is for the eight texts above.
UNIQUE_SEARCH_TEXTS = tuple(
    f"{colour}{word}{cap}以内"
    for cap in range(100, 2100)
    for colour in ("红色", "黑色", "白色", "蓝色")
    for word in ("连衣裙", "耳机", "运动鞋", "衬衫")
)
KNOWLEDGE_TEXT = "我的积分"
FALLBACK_TEXT = "今天天气怎么样"

TOKEN = "benchtoken"
APP_ID = "wxbench000000001"
ORIGINAL_ID = "gh_bench"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PATH = "/wechat"
REFERENCE_CONCURRENCY = 16


def wait_for(url: str, seconds: float = 30, healthy: bool = False) -> None:
    """Until the server answers (any HTTP status), or with `healthy` until it answers 200 (the start-up figure
    counts from the process start to that)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            if not healthy:
                return  # it answers
        except OSError:
            pass  # not listening yet
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not come up")


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    ready_s: float = 0.0  # from the process's start to its first healthy answer


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux); 0.0 where /proc is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(
    server: Server, requests_file: Path, concurrency: int, seconds: float, **kw: float
) -> tuple[LoadResult, float]:
    """A load run and the server's CPU time per answered message in microseconds."""
    before = cpu_seconds(server.pid)
    result = run_load(server.url, requests_file, concurrency, seconds, **kw)
    spent = cpu_seconds(server.pid) - before
    return result, (spent / result.requests * 1e6 if result.requests else 0.0)


@contextmanager
def our_server(var_dir: Path, aes: bool) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
    env.update(
        WXSHOP_VAR_DIR=str(var_dir),
        WXSHOP_SERVER__PORT=str(port),
        WXSHOP_WECHAT__TOKEN=TOKEN,
        WXSHOP_WECHAT__APP_ID=APP_ID,
        WXSHOP_WECHAT__ORIGINAL_ID=ORIGINAL_ID,
        WXSHOP_WECHAT__ENCODING_AES_KEY=AES_KEY if aes else "",
    )
    cli = [sys.executable, "-m", "bot", "--log-level", "ERROR"]
    sold_out = sold_out_catalog(var_dir.parent / "sold-out.csv")
    for command in (["db", "upgrade"], ["catalog", "import", str(DEMO_CATALOG)], ["catalog", "import", sold_out]):
        subprocess.run([*cli, *command], env=env, stdout=subprocess.DEVNULL, check=True)
    started = time.monotonic()
    proc = subprocess.Popen([*cli, "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", healthy=True)
        yield Server(f"http://127.0.0.1:{port}", proc.pid, time.monotonic() - started)
    finally:
        proc.terminate()
        proc.wait(30)


def sold_out_catalog(path: Path) -> str:
    """The demo catalog's `FLOW_SKU` row with no stock left, as a file to import over it."""
    with DEMO_CATALOG.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    (row,) = [r for r in rows if r["sku"] == FLOW_SKU]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({**row, "stock": "0"})
    return str(path)


@contextmanager
def echo_server(aes: bool) -> Iterator[Server]:
    port = free_port()
    args = ["--port", str(port), "--token", TOKEN, "--app-id", APP_ID, "--path", PATH]
    if aes:
        args += ["--aes-key", AES_KEY]
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.echo_bot", *args], stdout=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}{PATH}")
        yield Server(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def request_lines(count: int, fields: Callable[[int], dict], aes: bool) -> Iterator[str]:
    """`path<TAB>body` lines, each a distinct message signed (and encrypted) as WeChat would send it: now (the
    server refuses timestamps more than `[wechat] timestamp_window_s` away) and each with its own nonce."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if aes else None
    timestamp = str(int(time.time()))
    for i in range(count):
        nonce = secrets.token_hex(6)
        message = {"ToUserName": ORIGINAL_ID, "CreateTime": int(timestamp), **fields(i)}
        xml = render_xml(message)
        query = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        query["openid"] = message["FromUserName"]
        if crypto is not None:
            encrypted = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
            query.update(encrypt_type="aes", msg_signature=encrypted["MsgSignature"])
            xml = render_xml({"ToUserName": ORIGINAL_ID, "Encrypt": encrypted["Encrypt"]})
        yield f"{PATH}?{urlencode(query)}\t{xml}"


def keyword(i: int) -> dict:
    return {"FromUserName": f"o_bench_{i % 500}", "MsgType": "text", "Content": "你好", "MsgId": 10**12 + i}


def flow_step(i: int) -> dict:
    openid = f"o_flow_{i % FLOW_FOLLOWERS}"
    return {"FromUserName": openid, "MsgType": "text", "Content": FLOW_ANSWER, "MsgId": 2 * 10**12 + i}


def spec_question(i: int) -> dict:
    openid = f"o_flow_{i % FLOW_FOLLOWERS}"
    return {"FromUserName": openid, "MsgType": "text", "Content": "红色", "MsgId": 6 * 10**12 + i}


def text_from(prefix: str, followers: int | None, content: str | tuple[str, ...], base: int) -> Callable[[int], dict]:
    """Messages saying `content` (or each of its texts in turn), from follower `prefix{i % followers}` (each from
    a new follower when None)."""
    texts = (content,) if isinstance(content, str) else content

    def fields(i: int) -> dict:
        openid = f"{prefix}{i if followers is None else i % followers}"
        text = texts[i % len(texts)]
        return {"FromUserName": openid, "MsgType": "text", "Content": text, "MsgId": base * 10**12 + i}

    return fields


def first_follow(i: int) -> dict:
    return {"FromUserName": f"o_new_{i}", "MsgType": "event", "Event": "subscribe", "EventKey": ""}


def write_requests(folder: Path, name: str, count: int, fields: Callable[[int], dict], aes: bool) -> Path:
    path = folder / f"{name}.txt"
    path.write_text("\n".join(request_lines(count, fields, aes)) + "\n")
    return path


def warm_up(server: Server, folder: Path, aes: bool) -> None:
    """One second of load with messages of its own, not measured."""
    path = write_requests(folder, f"warm-{server.pid}", 20000, lambda i: keyword(i + 9 * 10**6), aes)
    run_load(server.url, path, REFERENCE_CONCURRENCY, 1)


def post(base_url: str, line: str) -> str:
    path, body = line.split("\t", 1)
    request = urllib.request.Request(base_url + path, data=body.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        if response.status != 200:
            raise RuntimeError(f"{base_url} answered {response.status}")
        return response.read().decode()


def check_answer(base_url: str, requests_file: Path, must_contain: str) -> None:
    """One request first: the benchmark measures real answers, not fast errors (`must_contain`: one of the
    `|`-separated strings)."""
    text = post(base_url, requests_file.read_text().splitlines()[-1])
    if not any(part in text for part in must_contain.split("|")):
        raise RuntimeError(f"unexpected answer from {base_url}: {text[-400:]!r}")


def open_product_cards(server: Server) -> None:
    """Bring every `flow_db` follower to the SKU question: search for the product, then pick it from the list.
    Not measured; the search index builds in the background at start-up, so the first search may wait for it."""

    def say(openid: str, content: str, msg_id: int) -> str:
        fields = {"FromUserName": openid, "MsgType": "text", "Content": content, "MsgId": msg_id}
        return post(server.url, next(request_lines(1, lambda _: fields, aes=False)))

    deadline = time.monotonic() + 30
    while "为您找到" not in say("o_flow_probe", FLOW_PRODUCT, 3 * 10**12 + int(time.monotonic() * 1000)):
        if time.monotonic() > deadline:
            raise RuntimeError("the search index did not come up")
        time.sleep(0.2)
    for i in range(FLOW_FOLLOWERS):
        openid = f"o_flow_{i}"
        if "为您找到" not in say(openid, FLOW_PRODUCT, 4 * 10**12 + i):
            raise RuntimeError(f"search for {FLOW_PRODUCT} found nothing")
        if FLOW_PRODUCT not in say(openid, "1", 5 * 10**12 + i):
            raise RuntimeError("picking the first search hit did not open its card")


def open_product_lists(server: Server, followers: int) -> None:
    """Bring every `*_list` follower to a search's product list (not measured; 16 at a time)."""
    lines = list(request_lines(followers, text_from("o_list_", None, LIST_QUERY, 7), aes=False))
    with ThreadPoolExecutor(REFERENCE_CONCURRENCY) as pool:
        for answer in pool.map(lambda line: post(server.url, line), lines):
            if "为您找到" not in answer:
                raise RuntimeError(f"search for {LIST_QUERY} found nothing: {answer[:200]!r}")


HOSTILE_PER_S = 10
HOSTILE_HEADER = (
    f"<ToUserName>{ORIGINAL_ID}</ToUserName><FromUserName>o_hostile</FromUserName><CreateTime>0</CreateTime>"
)
HOSTILE_BODIES = {
    "deep": "<xml>" + HOSTILE_HEADER + "<MsgType>text</MsgType><Content>" + "<a>" * 100_000 + "x" + "</a>" * 100_000
    + "</Content><MsgId>1</MsgId></xml>",
    "wide": "<xml>" + HOSTILE_HEADER + "<MsgType>text</MsgType>" + "<a/>" * 200_000 + "<MsgId>2</MsgId></xml>",
}  # fmt: skip
HUGE_TEXT = "今天天气怎么样" * 15_000


def hostile_lines(count: int) -> list[tuple[str, str]]:
    """(kind, `path<TAB>body` line): deep, wide and huge-text bodies in turn, signed now; each huge text is a new
    message (its own MsgId), so the server reads every one."""
    kinds = ("deep", "wide", "huge")
    lines = []
    for i, line in enumerate(request_lines(count, text_from("o_huge_", None, HUGE_TEXT, 18), aes=False)):
        kind = kinds[i % len(kinds)]
        path, body = line.split("\t", 1)
        lines.append((kind, f"{path}\t{HOSTILE_BODIES.get(kind, body)}"))
    return lines


@dataclass(frozen=True)
class HostileResult:
    sent: int
    unexpected: int  # deep or wide not refused with 400, a huge text not answered 200
    p50_ms: float
    max_ms: float


def send_hostile(base_url: str, lines: list[tuple[str, str]]) -> HostileResult:
    """Post `lines` at `HOSTILE_PER_S`, one at a time, timing each."""
    latencies, unexpected = [], 0
    started = time.monotonic()
    for i, (kind, line) in enumerate(lines):
        time.sleep(max(0.0, started + i / HOSTILE_PER_S - time.monotonic()))
        path, body = line.split("\t", 1)
        request = urllib.request.Request(base_url + path, data=body.encode(), method="POST")
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
        latencies.append((time.monotonic() - sent) * 1000)
        unexpected += status != (200 if kind == "huge" else 400)
    latencies.sort()
    return HostileResult(len(lines), unexpected, latencies[len(latencies) // 2], latencies[-1])


def under_hostile(server: Server, requests_file: Path, seconds: float) -> tuple[LoadResult, float, HostileResult]:
    """The normal load from `requests_file` with hostile bodies at `HOSTILE_PER_S` beside it, for `seconds`."""
    lines = hostile_lines(int(seconds * HOSTILE_PER_S))
    hostile: list[HostileResult] = []
    sender = threading.Thread(target=lambda: hostile.append(send_hostile(server.url, lines)))
    sender.start()
    result, cpu = measured(server, requests_file, REFERENCE_CONCURRENCY, seconds)
    sender.join()
    return result, cpu, hostile[0]


def row(name: str, server: str, conc: int, r: LoadResult, cpu_us: float, ratio: float | None = None) -> str:
    figures = f"{r.rps:>10.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.max_ms:>9.1f} {r.errors:>7} {cpu_us:>11.0f}"
    figures += "" if ratio is None else f" {ratio:>7.2f}"
    return f"{name:<15} {server:<6} {conc:>5} {figures}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--mixes", help="comma-separated mix names to run (default: all), e.g. search,search_list")
    args = parser.parse_args()
    seconds = 1 if args.quick else 5
    count = 3000 if args.quick else 120000
    list_followers = 200 if args.quick else LIST_FOLLOWERS
    figures: dict[str, float] = {}
    tool = ""
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, {platform.system()}"
    )
    print(
        f"{'mix':<15} {'server':<6} {'conc':>5} {'msgs/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} {'errors':>7}"
        f" {'cpu us/msg':>11} {'x echo':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for aes in (False, True):
            mixes = (
                [("aes", keyword, "Encrypt")]
                if aes
                else [
                    ("keyword", keyword, "[text]"),
                    ("flow", spec_question, "有几个规格符合"),
                    ("flow_db", flow_step, "已售罄"),
                    ("keyword_list", text_from("o_list_", list_followers, "你好", 11), "继续“逛商城”"),
                    ("search", text_from("o_search_", None, SEARCH_TEXTS, 12), "为您找到"),
                    ("search_list", text_from("o_list_", list_followers, SEARCH_TEXTS, 13), "为您找到"),
                    ("search_unique", text_from("o_search_", None, UNIQUE_SEARCH_TEXTS, 18), "为您找到|没有|没找到"),
                    ("knowledge", text_from("o_know_", LIST_FOLLOWERS, KNOWLEDGE_TEXT, 14), "积分抵1元"),
                    ("knowledge_list", text_from("o_list_", list_followers, KNOWLEDGE_TEXT, 15), "继续“逛商城”"),
                    ("fallback", text_from("o_fb_", None, FALLBACK_TEXT, 16), "没太明白"),
                    ("fallback_rounds", text_from("o_fbr_", LIST_FOLLOWERS, FALLBACK_TEXT, 17), "帮助|人工"),
                    ("event_db", first_follow, ""),
                ]
            )
            mixes = [mix for mix in mixes if not args.mixes or mix[0] in args.mixes.split(",")]
            if not mixes and (aes or "hostile" not in (args.mixes or "")):
                continue
            results: dict[tuple[str, str], LoadResult] = {}
            cpu: dict[tuple[str, str], float] = {}
            # Both servers up for the whole mix list, each mix run against the echo bot and at once against ours:
            # other load on a shared machine then moves both sides of a ratio alike.
            with echo_server(aes) as echo, our_server(folder / f"var-{aes}", aes) as ours:
                print(f"start-up   wxshop healthy {ours.ready_s:.2f} s after its process started", flush=True)
                figures["inbound_startup_s"] = max(figures.get("inbound_startup_s", 0.0), ours.ready_s)
                warm_up(echo, folder, aes)
                warm_up(ours, folder, aes)
                if not aes:
                    open_product_cards(ours)
                    open_product_lists(ours, list_followers)
                for name, fields, expect in mixes:
                    requests = write_requests(folder, name, count, fields, aes)  # signed just before it is sent
                    if expect:
                        check_answer(ours.url, requests, expect)
                    for server, label in ((echo, "echo"), (ours, "wxshop")):
                        key = (name, label)
                        results[key], cpu[key] = measured(server, requests, REFERENCE_CONCURRENCY, seconds)
                        tool = results[key].tool
                        ratio = results[key].rps / results[name, "echo"].rps if results[name, "echo"].rps else 0.0
                        print(row(name, label, REFERENCE_CONCURRENCY, results[key], cpu[key], ratio), flush=True)
                if not aes and (not args.mixes or "hostile" in args.mixes.split(",")):
                    calm = write_requests(folder, "hostile", count, lambda i: keyword(i + 7 * count), False)
                    result, calm_cpu, hostile = under_hostile(ours, calm, seconds)
                    print(row("hostile", "wxshop", REFERENCE_CONCURRENCY, result, calm_cpu), flush=True)
                    print(
                        f"  beside it: {hostile.sent} hostile bodies at {HOSTILE_PER_S}/s, p50 {hostile.p50_ms:.1f} ms,"
                        f" max {hostile.max_ms:.1f} ms, {hostile.unexpected} not answered as expected",
                        flush=True,
                    )
                    figures["inbound_hostile_p99_ms"] = result.p99_ms
                    figures["inbound_hostile_errors"] = result.errors
                    figures["inbound_hostile_bodies_max_ms"] = hostile.max_ms
                    figures["inbound_hostile_bodies_unexpected"] = hostile.unexpected
                if not aes:
                    over = write_requests(folder, "overload", count, lambda i: keyword(i + 5 * count), False)
                    result, over_cpu = measured(ours, over, REFERENCE_CONCURRENCY * 10, seconds, timeout_s=10)
                    print(row("overload", "wxshop", REFERENCE_CONCURRENCY * 10, result, over_cpu), flush=True)
                    figures["inbound_overload_max_ms"] = result.max_ms
                    figures["inbound_overload_errors"] = result.errors
            for name, _, _ in mixes:
                ours_r, echo_r = results[name, "wxshop"], results[name, "echo"]
                figures[f"inbound_{name}_msgs_per_s"] = ours_r.rps
                figures[f"inbound_{name}_echo_msgs_per_s"] = echo_r.rps
                figures[f"inbound_{name}_ratio"] = ours_r.rps / echo_r.rps if echo_r.rps else 0.0
                figures[f"inbound_{name}_p99_ms"] = ours_r.p99_ms
                figures[f"inbound_{name}_errors"] = ours_r.errors
                figures[f"inbound_{name}_cpu_us_per_msg"] = cpu[name, "wxshop"]
                figures[f"inbound_{name}_echo_cpu_us_per_msg"] = cpu[name, "echo"]
    print(f"load generator: {tool}")
    for name, value in figures.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
