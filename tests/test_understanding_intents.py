"""Intents learnt from examples: unseen messages, the clarifying question, operator examples, the evaluator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dialogs.understanding import (
    LABELS,
    CorpusError,
    Example,
    Thresholds,
    Understander,
    load_examples,
    normalise,
    shipped_examples,
)
from dialogs.understanding.evaluate import evaluate, shipped_eval_path

ROOT = Path(__file__).resolve().parents[1]

UNSEEN = [
    ("我那个包裹现在到哪个城市了", "tracking"),
    ("收到的杯子裂了一条缝", "after_sales_fact"),
    ("我想把这笔订单取消掉", "cancel_order"),
    ("优惠券跟满减能不能一起用啊", "ask_coupon_rules"),
    ("你们家几天能发货", "ask_shipping_time"),
    ("给我转一下人工客服吧", "human"),
    ("谢谢你啊小助手", "smalltalk_thanks"),
    ("七天内可以无理由退货不", "ask_return_policy"),
    ("有没有白色的运动鞋", "search"),
    ("积分可以抵多少钱啊", "ask_points_rules"),
    ("会员等级是怎么升的", "ask_tiers"),
    ("第三个有没有蓝色的", "refine"),
]


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander.build()


def _eval_rows() -> list[list[str]]:
    return [line.split("\t") for line in shipped_eval_path().read_text(encoding="utf-8").splitlines() if line]


def test_unseen_sentences_are_neither_training_nor_evaluation_messages() -> None:
    known = {normalise(example.text) for example in shipped_examples()} | {normalise(r[1]) for r in _eval_rows()}
    assert not [text for text, _ in UNSEEN if normalise(text) in known]


@pytest.mark.parametrize(("text", "intent"), UNSEEN)
def test_classifies_unseen_sentences(understander: Understander, text: str, intent: str) -> None:
    understood = understander.understand(text)
    assert understood.prediction.intent == intent
    assert understood.sure
    assert understood.prediction.runner_up != intent
    assert understood.prediction.margin == pytest.approx(
        understood.prediction.confidence - understood.prediction.runner_up_confidence
    )


def test_understanding_carries_entities(understander: Understander) -> None:
    understood = understander.understand("第二个有L码吗")
    assert understood.prediction.intent == "refine"
    assert (understood.entities.ordinal, understood.entities.sizes) == (2, ("L",))
    assert understood.norm == "第二个有l码吗"


def test_unsure_predictions_ask_between_the_two_likeliest(understander: Understander) -> None:
    unsure = understander.understand("有没有适合送客户的礼品")
    assert not unsure.sure
    assert {unsure.prediction.intent, unsure.prediction.runner_up} == {"search", "search_need"}
    assert unsure.question in ("您是想找商品，还是想让我推荐商品？", "您是想让我推荐商品，还是想找商品？")
    unfamiliar = understander.understand("量子纠缠")
    assert not unfamiliar.sure and unfamiliar.prediction.confidence < 0.1


def test_thresholds_are_configurable() -> None:
    lenient = Understander.build(thresholds=Thresholds(min_confidence=0.0, min_margin=0.0))
    assert lenient.understand("有没有适合送客户的礼品").sure
    strict = Understander.build(thresholds=Thresholds(min_confidence=1.01, min_margin=0.0))
    assert not strict.understand("我想把这笔订单取消掉").sure


def test_every_intent_has_a_label_and_examples() -> None:
    intents = {example.intent for example in shipped_examples()}
    assert intents == set(LABELS)
    assert len(intents) == 31


def test_operator_examples_change_a_prediction(tmp_path: Path) -> None:
    path = tmp_path / "examples.toml"
    path.write_text(
        '[[examples]]\nintent = "ask_invoice"\nlabel = "开发票"\ntext = "能开发票吗"\n\n'
        '[[examples]]\nintent = "ask_invoice"\ntext = "发票怎么开"\n\n'
        '[[examples]]\nintent = "ask_invoice"\ntext = "我要开个电子发票"\n\n'
        '[[examples]]\nintent = "human"\ntext = "量子纠缠"\n',
        encoding="utf-8",
    )
    assert load_examples(path)[0] == Example("ask_invoice", "能开发票吗", "开发票")
    before = Understander.build()
    after = Understander.build(examples_file=path)
    assert before.understand("可以开发票吗").prediction.intent != "ask_invoice"
    assert after.understand("可以开发票吗").prediction.intent == "ask_invoice"
    assert after.understand("量子纠缠").prediction.intent == "human"  # the operator's exact words win
    assert after.labels["ask_invoice"] == "开发票"
    assert after.understand("我那个包裹现在到哪个城市了").prediction.intent == "tracking"


def test_an_operator_example_overrides_a_shipped_one() -> None:
    assert Understander.build().understand("取消").prediction.intent == "cancel"
    overridden = Understander.build([Example("cancel_order", "取消")])
    assert overridden.understand("取消").prediction.intent == "cancel_order"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[examples]]\nintent = "x"\n', "`text` must be a non-empty string"),
        ('[[examples]]\ntext = "x"\n', "`intent` must be a non-empty string"),
        ('[[examples]]\nintent = "x"\ntext = "y"\nweight = 2\n', "unknown key 'weight'"),
        ("examples = 3\n", "array of tables"),
        ("[[examples]\n", "line 1"),
    ],
)
def test_malformed_operator_examples_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.toml"):
        load_examples(path)
    with pytest.raises(CorpusError) as raised:
        load_examples(path)
    assert message in str(raised.value)


def test_the_shipped_evaluation_set_is_large_separate_and_has_a_fixed_heldout_fifth() -> None:
    rows = _eval_rows()
    assert len(rows) >= 800
    assert {r[0] for r in rows} == set(LABELS)
    heldout = [r for r in rows if r[2] == "heldout"]
    assert {r[2] for r in rows} == {"dev", "heldout"}
    assert 0.17 <= len(heldout) / len(rows) <= 0.23
    training = {normalise(example.text) for example in shipped_examples()}
    assert not [r[1] for r in rows if normalise(r[1]) in training]


def test_evaluate_reports_accuracy_confusions_and_misses(understander: Understander, tmp_path: Path) -> None:
    path = tmp_path / "mine.tsv"
    path.write_text(
        "# a comment\ntracking\t我那个包裹现在到哪个城市了\ttest\nsearch\t收到的杯子裂了一条缝\ttest\n\n"
        "human\t给我转一下人工客服吧\n",
        encoding="utf-8",
    )
    report = evaluate(path, understander)
    assert report.accuracy() == pytest.approx(2 / 3)
    assert report.accuracy("test") == pytest.approx(1 / 2)
    assert report.per_intent == {"tracking": (1, 1), "search": (0, 1), "human": (1, 1)}
    assert report.confusions == [("search", "after_sales_fact", 1)]
    assert [miss.text for miss in report.misses] == ["收到的杯子裂了一条缝"]
    text = report.text()
    assert "accuracy 66.7% over 3 messages" in text
    assert "search → after_sales_fact: 1" in text
    assert "收到的杯子裂了一条缝" in text


def test_evaluate_refuses_a_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("tracking 没有制表符\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:1"):
        evaluate(path)


def test_heldout_accuracy_meets_the_target(understander: Understander) -> None:
    report = evaluate(shipped_eval_path(), understander)
    assert report.accuracy("heldout") >= 0.95
    assert report.accuracy("dev") >= 0.95
    assert "[heldout]" not in report.text()  # held-out misses stay hidden unless asked for


def test_evaluate_module_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "one.tsv"
    path.write_text("smalltalk_thanks\t谢谢你啊小助手\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "dialogs.understanding.evaluate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("accuracy 100.0% over 1 messages")
