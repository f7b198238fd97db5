"""Keyword matcher benchmark: `python -m benchmarks.matcher [--quick]`.

Generates realistic Chinese shop rules (fixed seed) at 200 / 10,000 / 100,000 rules — about 60 % contains,
35 % exact, 5 % regex, some with time windows, a few disabled — and ~30-character customer messages, some
hitting and some not. For each size it prints build time, index memory, per-message latency p50/p99 of
`Matcher.match` (normalisation included, after warm-up), the same for a naive loop (for each rule, for each
keyword, `kw in text`) measured in the same run on fewer messages, and their ratio. DESIGN §7 budget:
100,000 rules, p99 ≤ 20 µs per message, rebuild ≤ 1 s. `--quick` (200 and 10,000 rules, few messages) is
the test suite's smoke run and takes a couple of seconds.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from benchmarks.common import print_figures, print_machine_info, rss_bytes, summarize_ns, time_each
from dialogs.matcher import Matcher, Rule
from dialogs.normalize import normalize

SEED = 20261124
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PRODUCTS = _words(
    "连衣裙 衬衫 T恤 卫衣 外套 羽绒服 风衣 大衣 牛仔裤 阔腿裤 半身裙 西装 毛衣 针织衫 打底裤"
    " 运动裤 运动鞋 帆布鞋 高跟鞋 凉鞋 拖鞋 靴子 手机壳 耳机 充电宝 数据线 面膜 口红 粉底液"
    " 洗面奶 防晒霜 香水 精华 背包 钱包 帽子 围巾 袜子 内衣 睡衣 保温杯 毛巾 枕头 四件套 零食"
    " 坚果 茶叶 咖啡 牛奶 奶粉 尿不湿 玩具 台灯 收纳盒 雨伞"
)
ATTRIBUTES = _words(
    "红色 蓝色 黑色 白色 粉色 灰色 米色 卡其色 大码 小码 加绒 加厚 薄款 新款 夏季 冬季 春秋"
    " 复古 韩版 宽松 修身 纯棉 真丝 儿童 男士 女士 学生 情侣 网红 同款 高腰 长款 短款 防水"
    " 无线 便携"
)
SERVICES = _words(
    "退货 退款 换货 物流 快递 发货 到货 订单 发票 优惠券 满减 包邮 会员 积分 生日 礼包 签到"
    " 客服 人工 投诉 地址 尺码 价格 活动 秒杀 拼团 预售 库存 售后 保价 赠品 红包 折扣 运费"
    " 催单 改地址 取消订单 开发票"
)
GREETINGS = _words("你好 您好 在吗 在不在 哈喽 hi hello 早上好 晚上好 有人吗 客服在吗 人工客服 转人工 谢谢 再见 好的")
FILLERS = _words(
    "请问 我想问一下 有没有 多少钱 什么时候发货 谢谢 能便宜点吗 我想要 帮我看看 麻烦 一下 这个"
    " 那个 怎么 可以吗 还有吗 上周买的 昨天 今天 明天 一直 没有 还是 就是 感觉 质量 不错 特别"
    " 喜欢 朋友推荐 第一次买 老顾客了"
)
CJK = "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天"


@dataclass(frozen=True)
class Workload:
    rules: list[Rule]
    messages: list[str]


def _brand(rnd: random.Random) -> str:
    return "".join(rnd.choice(CJK) for _ in range(rnd.randint(2, 3)))


def _contains_keyword(rnd: random.Random, brands: list[str]) -> str:
    shape = rnd.random()
    if shape < 0.35:
        return rnd.choice(brands) + rnd.choice(PRODUCTS)
    if shape < 0.65:
        return rnd.choice(ATTRIBUTES) + rnd.choice(PRODUCTS) + rnd.choice(("", "", rnd.choice(brands)))
    if shape < 0.85:
        return rnd.choice(PRODUCTS) + rnd.choice(SERVICES)
    return rnd.choice(brands) + rnd.choice(SERVICES)


def _exact_keyword(rnd: random.Random, brands: list[str]) -> str:
    shape = rnd.random()
    if shape < 0.05:
        return rnd.choice(GREETINGS) + rnd.choice(("", "！", "？", "~"))
    if shape < 0.4:
        return rnd.choice(("查", "我的", "")) + rnd.choice(SERVICES) + rnd.choice(brands)
    if shape < 0.7:
        return rnd.choice(brands) + rnd.choice(("官方", "旗舰店", "客服", "会员"))
    return rnd.choice(brands) + rnd.choice(ATTRIBUTES) + rnd.choice(PRODUCTS)


def _regex_keyword(rnd: random.Random, brands: list[str]) -> str:
    shape = rnd.random()
    product, attribute, other = rnd.choice(PRODUCTS), rnd.choice(ATTRIBUTES), rnd.choice(ATTRIBUTES)
    if shape < 0.2:
        return rnd.choice(brands) + r"订单号?\d{6,}"
    if shape < 0.45:
        return f"{attribute}.{{0,4}}{product.lower()}"
    if shape < 0.65:
        return f"({attribute}|{other}){product.lower()}"
    if shape < 0.8:
        return rnd.choice(brands) + r"满\d+减\d+"
    return f"{product.lower()}\\d{{2,4}}元"


# A few patterns without a literal to prefilter on: realistic (phone and tracking numbers), and the
# expensive kind, since they run on every message that no exact or contains rule answered.
LITERAL_FREE = (r"[a-z]{2}\d{10,12}", r"\d{15,18}", r"[a-z]\d{7}")


def _window(rnd: random.Random) -> tuple[datetime | None, datetime | None]:
    """About 10 % of rules have a window: half open now, a quarter in the future, a quarter closed."""
    roll = rnd.random()
    if roll >= 0.1:
        return None, None
    days = timedelta(days=rnd.randint(1, 30))
    if roll < 0.05:
        return NOW - days, NOW + days
    if roll < 0.075:
        return NOW + days, NOW + 2 * days
    return NOW - 2 * days, NOW - days


def make_rules(count: int, rnd: random.Random) -> list[Rule]:
    brands = [_brand(rnd) for _ in range(max(20, count // 20))]
    rules = []
    regex_count = 0
    for rule_id in range(1, count + 1):
        roll = rnd.random()
        if roll < 0.6:
            mode, keywords = "contains", [_contains_keyword(rnd, brands) for _ in range(rnd.choice((1, 1, 2, 3)))]
        elif roll < 0.95:
            mode, keywords = "exact", [_exact_keyword(rnd, brands) for _ in range(rnd.choice((1, 1, 2)))]
        else:
            keyword = LITERAL_FREE[regex_count] if regex_count < len(LITERAL_FREE) else _regex_keyword(rnd, brands)
            mode, keywords = "regex", [keyword]
            regex_count += 1
        starts, ends = _window(rnd)
        priority = min(rnd.randint(0, 3), rnd.randint(0, 9))
        rules.append(
            Rule(rule_id, f"规则{rule_id}", tuple(keywords), mode, priority, rnd.random() > 0.02, starts, ends, None)
        )
    return rules


def _pad(rnd: random.Random, text: str, length: int = 30) -> str:
    while len(text) < length:
        text = text + rnd.choice(FILLERS) if rnd.random() < 0.5 else rnd.choice(FILLERS) + text
    return text[: length + 4]


def make_messages(count: int, rules: list[Rule], rnd: random.Random) -> list[str]:
    """~30-character messages: half carry a rule's keyword, a tenth are greetings, the rest is chatter."""
    messages = []
    keyworded = [rule for rule in rules if rule.match != "regex"]
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.45:
            rule = rnd.choice(keyworded)
            messages.append(_pad(rnd, rnd.choice(FILLERS) + rnd.choice(rule.keywords)))
        elif roll < 0.55:
            messages.append(rnd.choice(GREETINGS) + rnd.choice(("", "！", "？", "～", " ")))
        elif roll < 0.6:
            number = "".join(rnd.choice("0123456789") for _ in range(rnd.choice((8, 11))))
            messages.append(_pad(rnd, f"订单号：{number}，{rnd.choice(SERVICES)}"))
        else:
            chatter = rnd.choice(ATTRIBUTES) + rnd.choice(PRODUCTS) + rnd.choice(FILLERS) + rnd.choice(SERVICES)
            messages.append(_pad(rnd, chatter))
    return messages


def make_workload(rule_count: int, message_count: int) -> Workload:
    rnd = random.Random(SEED + rule_count)
    rules = make_rules(rule_count, rnd)
    return Workload(rules, make_messages(message_count, rules, rnd))


def naive_matcher(rules: list[Rule]) -> Callable[[str], list[Rule]]:
    """The baseline: for each rule, for each keyword, `kw in text` (regex rules skipped, windows ignored)."""
    table = [(rule, [normalize(k) for k in rule.keywords]) for rule in rules if rule.enabled and rule.match != "regex"]

    def match(text: str) -> list[Rule]:
        norm = normalize(text)
        found = []
        for rule, keywords in table:
            for keyword in keywords:
                if keyword in norm:
                    found.append(rule)
                    break
        return found

    return match


@dataclass(frozen=True)
class SizeResult:
    label: str
    figures: dict[str, float]
    lines: list[str]


def _build_figures(rules: list[Rule]) -> tuple[Matcher, float, float, float | None]:
    """Build once untraced for time and RSS growth, then again under tracemalloc for Python-heap size."""
    gc.collect()
    rss_before = rss_bytes()
    started = time.perf_counter()
    matcher = Matcher.build(rules)
    build_ms = (time.perf_counter() - started) * 1000
    rss_after = rss_bytes()
    rss_mb = None if rss_before is None or rss_after is None else (rss_after - rss_before) / 1e6
    tracemalloc.start()
    traced = Matcher.build(rules)
    traced_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    del traced
    return matcher, build_ms, traced_mb, rss_mb


def _mode_mix(matcher: Matcher, messages: list[str]) -> str:
    counts = {"exact": 0, "contains": 0, "regex": 0, None: 0}
    for text in messages:
        found = matcher.match(text, NOW)
        counts[found.mode if found else None] += 1
    total = len(messages)
    return " ".join(f"{mode or 'miss'} {100 * n / total:.0f}%" for mode, n in counts.items())


def _header(rules: list[Rule]) -> str:
    modes = {mode: sum(rule.match == mode for rule in rules) for mode in ("contains", "exact", "regex")}
    timed = sum(rule.starts is not None for rule in rules)
    disabled = sum(not rule.enabled for rule in rules)
    mix = " / ".join(f"{count:,} {mode}" for mode, count in modes.items())
    return f"== {len(rules):,} rules: {mix}; {timed:,} with a window, {disabled:,} disabled =="


def run_size(rule_count: int, label: str, message_count: int, naive_count: int) -> SizeResult:
    """Build, time the matcher and the naive loop on the same messages, time conflicts(); report one size."""
    workload = make_workload(rule_count, message_count)
    rules, messages = workload.rules, workload.messages
    matcher, build_ms, traced_mb, rss_mb = _build_figures(rules)
    warmup = messages[: max(200, len(messages) // 10)]
    fast = summarize_ns(time_each(partial(matcher.match, now=NOW), messages, warmup))
    slow = summarize_ns(time_each(naive_matcher(rules), messages[:naive_count], messages[:3]))
    started = time.perf_counter()
    conflicts = matcher.conflicts(NOW)
    conflicts_ms = (time.perf_counter() - started) * 1000
    ratio = slow["p50_us"] / fast["p50_us"]
    figures = {
        f"matcher_{label}_build_ms": build_ms,
        f"matcher_{label}_p50_us": fast["p50_us"],
        f"matcher_{label}_p99_us": fast["p99_us"],
        f"matcher_{label}_naive_p50_us": slow["p50_us"],
        f"matcher_{label}_naive_p99_us": slow["p99_us"],
        f"matcher_{label}_naive_ratio_p50": ratio,
        f"matcher_{label}_index_mb": traced_mb,
        f"matcher_{label}_conflicts_ms": conflicts_ms,
    }
    rss = ""
    if rss_mb is not None:
        figures[f"matcher_{label}_rss_mb"] = rss_mb
        rss = f", RSS +{rss_mb:.1f} MB incl. automaton"
    lines = [
        _header(rules),
        f"  {'build':<24}{build_ms:>10.1f} ms",
        f"  {'index memory':<24}{traced_mb:>10.1f} MB Python heap (tracemalloc){rss}",
        f"  {'matcher':<24}p50 {fast['p50_us']:>8.2f} µs  p99 {fast['p99_us']:>8.2f} µs"
        f"  max {fast['max_us']:>8.1f} µs  ({len(messages):,} messages)",
        f"  {'naive loop':<24}p50 {slow['p50_us']:>8.1f} µs  p99 {slow['p99_us']:>8.1f} µs"
        f"  max {slow['max_us']:>8.1f} µs  ({naive_count:,} messages)",
        f"  {'naive / matcher (p50)':<24}{ratio:>10.0f} x",
        f"  {'outcomes':<24}{_mode_mix(matcher, messages)}",
        f"  {'conflicts()':<24}{conflicts_ms:>10.1f} ms  ({len(conflicts):,} reported)",
    ]
    return SizeResult(label, figures, lines)


SIZES = ((200, "200"), (10_000, "10k"), (100_000, "100k"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 and 10,000 rules, few messages (smoke run)")
    args = parser.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    message_count = 1_500 if args.quick else 20_000
    print("# keyword matcher benchmark" + (" (quick)" if args.quick else ""))
    print_machine_info()
    figures: dict[str, float] = {}
    for rule_count, label in sizes:
        naive_count = max(20, min(2_000, 4_000_000 // rule_count)) if not args.quick else 40
        result = run_size(rule_count, label, message_count, naive_count)
        print("\n".join(result.lines))
        figures.update(result.figures)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
