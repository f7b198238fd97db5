"""The keyword matcher: normalisation, the three modes, precedence, windows, the regex guard, conflicts.

A randomised cross-check against a brute-force reference pins the resolution order on many small rule sets.
"""

from __future__ import annotations

import random
import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialogs.matcher import (
    MAX_PATTERN_CHARS,
    MAX_TEXT_CHARS,
    REGEX_WINDOW,
    Conflict,
    Matcher,
    Rule,
    RuleError,
    UnsafePattern,
    compile_pattern,
)
from dialogs.normalize import normalize

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
HOUR = timedelta(hours=1)


def rule(rule_id: int, *keywords: str, match: str = "contains", priority: int = 0, **fields: object) -> Rule:
    return Rule(id=rule_id, name=f"规则{rule_id}", keywords=keywords, match=match, priority=priority, **fields)


def winner(rules: list[Rule], text: str, now: datetime = NOW) -> tuple[int, str, str] | None:
    found = Matcher.build(rules).match(text, now)
    return None if found is None else (found.rule.id, found.keyword, found.mode)


# ------------------------------------------------------------------------------------------ normalisation


def test_normalize_folds_width_and_case() -> None:
    assert normalize("ＶＩＰ") == "vip"
    assert normalize("Vip") == "vip"
    assert normalize("ｖｉｐ会员１２３") == "vip会员123"
    assert normalize("Straße") == "strasse"
    assert normalize("①号") == "1号"


def test_normalize_removes_spaces_and_punctuation() -> None:
    assert normalize(" v i p ") == "vip"
    assert normalize("你好！") == normalize("你好") == "你好"
    assert normalize("，。！？、；：“”‘’（）【】《》…—～·") == ""
    assert normalize("hello, world! (ok)?") == "helloworldok"
    assert normalize("退\u3000货") == "退货"  # ideographic space
    assert normalize("退\u200b货\ufeff") == "退货"  # zero-width space, BOM
    assert normalize("a\tb\nc") == "abc"


def test_normalize_keeps_meaningful_symbols() -> None:
    assert normalize("👍好评") == "👍好评"
    assert normalize("❤️") == normalize("❤")  # the variation selector goes, the heart stays
    assert normalize("￥100") == "¥100"


@pytest.mark.parametrize(
    "text",
    [
        "ＶＩＰ会员！",
        "Straße",
        "ΐ",
        "ℌello",
        "⑴号",
        "𝚨𝚩",
        "ǅ",
        "İstanbul",
        "e\u0301",
        "Ⅻ",
        "㈠",
        "ｶﾀｶﾅ",
        "a\u0345b",
        "",
    ],
)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


# ---------------------------------------------------------------------------------------------- the modes


def test_exact_matches_whole_normalised_message_only() -> None:
    rules = [rule(1, "你好", match="exact")]
    assert winner(rules, "你好") == (1, "你好", "exact")
    assert winner(rules, " 你好！！") == (1, "你好", "exact")
    assert winner(rules, "你好呀") is None


def test_contains_matches_anywhere_after_normalisation() -> None:
    rules = [rule(1, "退货"), rule(2, "ＶＩＰ")]
    assert winner(rules, "我想退货怎么办") == (1, "退货", "contains")
    assert winner(rules, "我是 vip 会员") == (2, "ＶＩＰ", "contains")
    assert winner(rules, "我是Ｖ Ｉ Ｐ") == (2, "ＶＩＰ", "contains")
    assert winner(rules, "我想换货") is None


def test_keywords_are_normalised_like_messages() -> None:
    rules = [rule(1, "你好！", match="exact"), rule(2, "Ｒｅｄ Dress")]
    assert winner(rules, "你好") == (1, "你好！", "exact")
    assert winner(rules, "买一件REDDRESS") == (2, "Ｒｅｄ Dress", "contains")


def test_regex_searches_normalised_text() -> None:
    rules = [rule(1, r"订单号?\d{6,}", match="regex")]
    found = Matcher.build(rules).match("我的订单号：１２３４５６７８，到哪了", NOW)
    assert found is not None
    assert (found.rule.id, found.keyword, found.mode, found.found) == (1, r"订单号?\d{6,}", "regex", "订单号12345678")
    assert winner(rules, "订单号 12345") is None


def test_literal_free_regex_runs_on_every_message() -> None:
    rules = [rule(1, r"[a-z]{2}\d{10}", match="regex")]
    assert winner(rules, "快递单 SF1234567890") == (1, r"[a-z]{2}\d{10}", "regex")
    assert winner(rules, "快递单 SF123") is None


def test_match_carries_the_rule_and_its_reply_untouched() -> None:
    reply = {"type": "news", "articles": [{"title": "新品"}]}
    matcher = Matcher.build([Rule(7, "新品", ("新品",), "contains", reply=reply)])
    found = matcher.match("有新品吗", NOW)
    assert found is not None and found.rule.reply is reply and found.found == "新品"
    assert hash(found.rule) == hash(Rule(7, "新品", ("新品",), "contains", reply={"other": 1}))
    assert found.rule != Rule(7, "新品", ("新品",), "contains", reply={"other": 1})


def test_nothing_to_match() -> None:
    assert Matcher.build([]).match("你好", NOW) is None
    matcher = Matcher.build([rule(1, "你好", match="exact"), rule(2, "好")])
    assert matcher.match("！？ 。", NOW) is None
    assert matcher.match("", NOW) is None


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Matcher.build([rule(1, "你好")]).match("你好", datetime(2026, 11, 24, 10))


# --------------------------------------------------------------------------------------------- precedence


def test_exact_beats_contains_beats_regex_whatever_the_priority() -> None:
    rules = [
        rule(1, "你好", match="exact", priority=0),
        rule(2, "你好", priority=9),
        rule(3, "你.", match="regex", priority=99),
    ]
    assert winner(rules, "你好") == (1, "你好", "exact")
    assert winner(rules, "你好呀") == (2, "你好", "contains")
    assert winner(rules, "你们") == (3, "你.", "regex")


def test_contains_prefers_priority_then_longer_keyword_then_lower_id() -> None:
    assert winner([rule(1, "红色连衣裙", priority=1), rule(2, "连衣裙", priority=2)], "红色连衣裙") == (
        2,
        "连衣裙",
        "contains",
    )
    assert winner([rule(1, "连衣裙"), rule(2, "红色连衣裙")], "要红色连衣裙") == (2, "红色连衣裙", "contains")
    assert winner([rule(5, "连衣裙"), rule(3, "连衣裙"), rule(4, "衣裙")], "连衣裙") == (3, "连衣裙", "contains")


def test_a_rule_reports_its_best_keyword() -> None:
    assert winner([rule(1, "裙", "连衣裙")], "连衣裙") == (1, "连衣裙", "contains")


def test_exact_prefers_priority_then_lower_id() -> None:
    assert winner([rule(2, "你好", match="exact"), rule(1, "你好", match="exact")], "你好") == (1, "你好", "exact")
    rules = [rule(1, "你好", match="exact"), rule(2, "你好！", match="exact", priority=1)]
    assert winner(rules, "你好") == (2, "你好！", "exact")


def test_regex_prefers_priority_then_longer_pattern_then_lower_id() -> None:
    assert winner([rule(1, "裙.", match="regex"), rule(2, "裙", match="regex", priority=1)], "裙子") == (
        2,
        "裙",
        "regex",
    )
    assert winner([rule(1, "裙", match="regex"), rule(2, "裙.", match="regex")], "裙子") == (2, "裙.", "regex")
    assert winner([rule(4, "裙.", match="regex"), rule(3, "裙子", match="regex")], "裙子") == (3, "裙子", "regex")


# ------------------------------------------------------------------------------------ windows and disabling


def test_window_starts_inclusive_ends_exclusive() -> None:
    rules = [rule(1, "双11", starts=NOW, ends=NOW + HOUR)]
    assert winner(rules, "双11活动", NOW - timedelta(microseconds=1)) is None
    assert winner(rules, "双11活动", NOW) == (1, "双11", "contains")
    assert winner(rules, "双11活动", NOW + HOUR - timedelta(microseconds=1)) == (1, "双11", "contains")
    assert winner(rules, "双11活动", NOW + HOUR) is None


def test_window_bounds_compare_across_timezones() -> None:
    rules = [rule(1, "秒杀", starts=datetime(2026, 11, 24, 2, 0, tzinfo=UTC))]  # 10:00 in Shanghai
    assert winner(rules, "秒杀", NOW - timedelta(seconds=1)) is None
    assert winner(rules, "秒杀", NOW) == (1, "秒杀", "contains")
    assert winner(rules, "秒杀", NOW.astimezone(UTC)) == (1, "秒杀", "contains")


@pytest.mark.parametrize("mode", ["exact", "contains", "regex"])
def test_closed_high_priority_rule_does_not_hide_an_open_lower_one(mode: str) -> None:
    rules = [
        rule(1, "优惠", match=mode, priority=9, starts=NOW - 2 * HOUR, ends=NOW - HOUR),
        rule(2, "优惠", match=mode, priority=8, starts=NOW + HOUR),
        rule(3, "优惠", match=mode, priority=7, enabled=False),
        rule(4, "优惠", match=mode, priority=1, starts=NOW - HOUR, ends=NOW + HOUR),
    ]
    assert winner(rules, "优惠", NOW) == (4, "优惠", mode)
    assert winner(rules, "优惠", NOW - 1.5 * HOUR) == (1, "优惠", mode)
    assert winner(rules, "优惠", NOW + 2 * HOUR) == (2, "优惠", mode)


def test_closed_contains_rule_with_longer_keyword_does_not_hide_a_shorter_one() -> None:
    rules = [rule(1, "红色连衣裙", ends=NOW), rule(2, "连衣裙", ends=NOW + HOUR)]
    assert winner(rules, "红色连衣裙") == (2, "连衣裙", "contains")


def test_disabled_rules_never_fire() -> None:
    rules = [rule(1, "你好", match="exact", enabled=False), rule(2, "退货", enabled=False)]
    assert winner(rules, "你好") is None
    assert winner(rules, "退货") is None


def test_rule_whose_window_ends_before_it_starts_never_fires() -> None:
    assert winner([rule(1, "退货", starts=NOW, ends=NOW - HOUR)], "退货", NOW) is None


def test_rule_active_at() -> None:
    assert rule(1, "x", starts=NOW, ends=NOW + HOUR).active_at(NOW)
    assert not rule(1, "x", starts=NOW, ends=NOW + HOUR).active_at(NOW + HOUR)
    assert not rule(1, "x", enabled=False).active_at(NOW)


# ------------------------------------------------------------------------------------------ long messages


def test_long_message_is_matched_up_to_the_cap() -> None:
    filler = "我" * (MAX_TEXT_CHARS - 10)
    rules = [rule(1, "退货")]
    assert winner(rules, filler + "退货" + "我" * 3000) == (1, "退货", "contains")
    assert winner(rules, "我" * MAX_TEXT_CHARS + "退货") is None


def test_regex_sees_only_the_start_of_a_long_message() -> None:
    rules = [rule(1, r"订单\d{6}", match="regex")]
    assert winner(rules, "我" * (REGEX_WINDOW - 10) + "订单123456") == (1, r"订单\d{6}", "regex")
    assert winner(rules, "我" * REGEX_WINDOW + "订单123456") is None


def test_accepted_pattern_on_hostile_long_message_returns() -> None:
    rules = [rule(1, r"\d+x", match="regex"), rule(2, r"退货.*运费", match="regex")]
    matcher = Matcher.build(rules)
    assert matcher.match("x" + "1" * 5000, NOW) is None
    assert matcher.match("退货" * 2000, NOW) is None


# ------------------------------------------------------------------------------------------- rule errors


def build_error(*rules: Rule) -> RuleError:
    with pytest.raises(RuleError) as caught:
        Matcher.build(rules)
    return caught.value


def test_keyword_empty_after_normalisation_is_rejected_naming_the_rule() -> None:
    error = build_error(Rule(3, "感叹", ("好", "！！ "), "contains"))
    assert (error.rule_id, error.rule_name, error.keyword) == (3, "感叹", "！！ ")
    assert "感叹" in str(error) and "3" in str(error) and "empty" in str(error)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(", "invalid regular expression"),
        ("a" * (MAX_PATTERN_CHARS + 1), "longer than"),
        (r"(a+)+b", "exponentially"),
        (r"(a*)*b", "exponentially"),
        (r"(.*)*b", "exponentially"),
        (r"(a|aa)+b", "exponentially"),
        (r"(ab|ab)+c", "exponentially"),
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?P=x)", "backreferences"),
        (r"(a)?(?(1)b|c)", "backreferences"),
        (r".*的.*", "trade characters"),
        (r"\d+\d+x", "trade characters"),
        (r"退货.*运费.*", "trade characters"),
        ("a?" * 9 + "b", "optional pieces"),
        (r"x*", "empty string"),
        (r"订单|", "empty string"),
        (r"(?i)vip", "(?i)"),
        (r"(?i:vip)会员", "(?i)"),
        (r"VIP\d+", "never occurs"),
        (r"订单：\d+", "never occurs"),
        (r"a b", "never occurs"),
        (r"ｖｉｐ", "never occurs"),
    ],
)
def test_unsafe_or_impossible_patterns_are_rejected(pattern: str, reason: str) -> None:
    error = build_error(rule(1, "正常"), Rule(42, "坏规则", (pattern,), "regex", enabled=False))
    assert (error.rule_id, error.rule_name, error.keyword) == (42, "坏规则", pattern)
    assert reason in str(error) and "坏规则" in str(error)


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"满\d+减\d+", {"满"}),
        (r"(红色|蓝色)+连", {"红色", "蓝色"}),
        (r"(红|蓝)色.{0,4}连衣裙", {"连衣裙"}),
        (r"退货.*运费", {"退货"}),
        (r".*退货", {"退货"}),
        (r"(订单|快递)\d{6,}", {"订单", "快递"}),
        (r"1[3-9]\d{9}", {"1"}),
        (r"\d{11}", None),
        (r"[a-z]{2}\d{10,12}", None),
        (r"(?:ab)+c", {"ab"}),
        (r"a++b", {"a"}),
    ],
)
def test_reasonable_patterns_are_accepted_with_their_prefilter(pattern: str, literals: set[str] | None) -> None:
    compiled, required = compile_pattern(pattern)
    assert required == (None if literals is None else frozenset(literals))
    assert isinstance(compiled, re.Pattern)


def test_compile_pattern_raises_unsafe_pattern() -> None:
    with pytest.raises(UnsafePattern):
        compile_pattern(r"(a+)+")


def test_other_rule_errors() -> None:
    assert "duplicate rule id" in str(build_error(rule(1, "a"), rule(1, "b")))
    assert "match must be one of" in str(build_error(rule(1, "a", match="fuzzy")))
    assert "no keywords" in str(build_error(rule(1)))
    assert "timezone-aware" in str(build_error(rule(1, "a", starts=datetime(2026, 1, 1))))
    assert "must be strings" in str(build_error(Rule(1, "n", (3,), "contains")))  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="not one string"):
        Rule(1, "n", "你好", "exact")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- immutability


def test_matcher_is_immutable() -> None:
    matcher = Matcher.build([rule(1, "你好")])
    with pytest.raises(AttributeError):
        matcher._rules = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        matcher.extra = 1  # type: ignore[attr-defined]
    assert matcher.rules == (rule(1, "你好"),)


def test_one_matcher_answers_many_threads_alike() -> None:
    rules = [rule(i, f"词{i}", priority=i % 3) for i in range(200)] + [rule(999, r"订单\d+", match="regex")]
    matcher = Matcher.build(rules)
    texts = [f"我要词{i}和词{i + 7}" for i in range(150)] + ["订单123", "没有"]
    expected = [matcher.match(text, NOW) for text in texts]
    results: list[list[object]] = []

    def work() -> None:
        results.append([matcher.match(text, NOW) for text in texts * 5])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected * 5] * 4


# ---------------------------------------------------------------------------------------------- conflicts


def kinds(conflicts: list[Conflict]) -> list[tuple[str, int, int | None]]:
    return [(c.kind, c.rule.id, c.other.id if c.other else None) for c in conflicts]


def test_same_exact_keyword_shadows_the_loser() -> None:
    matcher = Matcher.build([rule(1, "你好", match="exact"), rule(2, "你好！", match="exact", priority=3)])
    [conflict] = matcher.conflicts(NOW)
    assert kinds([conflict]) == [("exact_shadowed", 1, 2)]
    assert "规则1" in conflict.message and "规则2" in conflict.message and "priority 3 > 0" in conflict.message
    assert str(conflict) == conflict.message


def test_exact_rules_in_separate_windows_do_not_conflict() -> None:
    rules = [
        rule(1, "活动", match="exact", priority=1, ends=NOW + HOUR),
        rule(2, "活动", match="exact", starts=NOW + HOUR),
    ]
    assert Matcher.build(rules).conflicts(NOW) == []


def test_contains_rule_dominated_by_a_higher_ranked_inner_keyword() -> None:
    matcher = Matcher.build([rule(1, "连衣裙", priority=9), rule(2, "红色连衣裙", "蓝色连衣裙")])
    [conflict] = matcher.conflicts(NOW)
    assert kinds([conflict]) == [("contains_shadowed", 2, 1)]
    assert "规则1" in conflict.message and "规则2" in conflict.message and "红色连衣裙" in conflict.message


def test_contains_rules_that_can_still_win_are_not_reported() -> None:
    same_priority = [rule(1, "连衣裙"), rule(2, "红色连衣裙")]  # the longer keyword wins
    partly_covered = [rule(1, "连衣裙", priority=9), rule(2, "红色连衣裙", "衬衫")]
    covered_by_two_rules = [rule(1, "连衣裙", priority=9), rule(2, "衬衫", priority=9), rule(3, "红色连衣裙", "白衬衫")]
    for rules in (same_priority, partly_covered, covered_by_two_rules):
        assert Matcher.build(rules).conflicts(NOW) == []


def test_rules_that_never_fire() -> None:
    rules = [
        rule(1, "a", enabled=False),
        rule(2, "b", starts=NOW, ends=NOW),
        rule(3, "c", ends=NOW - HOUR),
        rule(4, "d", ends=NOW + HOUR),
    ]
    matcher = Matcher.build(rules)
    conflicts = matcher.conflicts(NOW)
    assert kinds(conflicts) == [("never_fires", 1, None), ("never_fires", 2, None), ("never_fires", 3, None)]
    assert "disabled" in conflicts[0].message and "closed" in conflicts[2].message
    assert kinds(matcher.conflicts()) == [("never_fires", 1, None), ("never_fires", 2, None)]


def test_closed_or_disabled_rules_shadow_nothing_and_are_reported_once() -> None:
    rules = [
        rule(1, "你好", match="exact", priority=5, ends=NOW - HOUR),
        rule(2, "你好", match="exact"),
        rule(3, "连衣裙", priority=5, enabled=False),
        rule(4, "红色连衣裙"),
        rule(5, "红色连衣裙", ends=NOW - HOUR),
    ]
    assert kinds(Matcher.build(rules).conflicts(NOW)) == [
        ("never_fires", 1, None),
        ("never_fires", 3, None),
        ("never_fires", 5, None),
    ]


def test_conflicts_need_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Matcher.build([]).conflicts(datetime(2026, 1, 1))


# -------------------------------------------------------------------------------- randomised cross-check

ALPHABET = "红蓝色裙衣ab1Ａ"
PATTERNS = (r"红.{0,2}裙", r"a+b", r"(红|蓝)色", r"色\d+", r"[ab]{2}", r"裙$", r"^蓝", r"衣1?a")
WINDOWS = ((None, None), (NOW - HOUR, NOW + HOUR), (NOW + HOUR, None), (None, NOW - HOUR), (NOW, NOW + HOUR))


def random_rules(rnd: random.Random, count: int) -> list[Rule]:
    rules = []
    for rule_id in rnd.sample(range(1, 10 * count), count):
        mode = rnd.choice(("exact", "contains", "contains", "regex"))
        if mode == "regex":
            keywords = tuple(rnd.sample(PATTERNS, rnd.randint(1, 2)))
        else:
            keywords = tuple(
                "".join(rnd.choice(ALPHABET + " ！") for _ in range(rnd.randint(0, 2))) + rnd.choice(ALPHABET)
                for _ in range(rnd.randint(1, 3))
            )
        starts, ends = rnd.choice(WINDOWS)
        rules.append(Rule(rule_id, f"r{rule_id}", keywords, mode, rnd.randint(0, 2), rnd.random() > 0.1, starts, ends))
    return rules


def reference(rules: list[Rule], text: str, now: datetime) -> tuple[int, str, str] | None:
    """Brute force: every keyword of every active rule, ranked by (mode, -priority, -length, id, keyword)."""
    norm = normalize(text)
    if not norm:
        return None
    candidates = []
    for r in rules:
        if not r.active_at(now) or (r.starts and r.ends and r.ends <= r.starts):
            continue
        for order, keyword in enumerate(r.keywords):
            if r.match == "regex":
                if re.search(keyword, norm[:REGEX_WINDOW]):
                    candidates.append((2, -r.priority, -len(keyword), r.id, keyword, order, r.match, keyword))
                continue
            folded = normalize(keyword)
            if (r.match == "exact" and folded == norm) or (r.match == "contains" and folded in norm):
                length = 0 if r.match == "exact" else -len(folded)
                rank = 0 if r.match == "exact" else 1
                candidates.append((rank, -r.priority, length, r.id, folded, order, r.match, keyword))
    if not candidates:
        return None
    best = min(candidates)
    return best[3], best[7], best[6]


def test_matches_brute_force_reference_on_random_rule_sets() -> None:
    rnd = random.Random(20261124)
    nows = [NOW - 2 * HOUR, NOW, NOW + 30 * timedelta(minutes=1), NOW + 2 * HOUR]
    checked = 0
    for _ in range(40):
        rules = random_rules(rnd, rnd.randint(1, 40))
        matcher = Matcher.build(rules)
        for _ in range(40):
            text = "".join(rnd.choice(ALPHABET + " ！，") for _ in range(rnd.randint(0, 8)))
            now = rnd.choice(nows)
            found = matcher.match(text, now)
            got = None if found is None else (found.rule.id, found.keyword, found.mode)
            assert got == reference(rules, text, now), (text, now, rules)
            checked += got is not None
    assert checked > 500  # the sets collide often enough to exercise precedence
