"""`wxshop nlu`: the learning loop from the terminal, as an operator runs it."""

from __future__ import annotations

from tests.support import wxshop


def test_teach_changes_what_the_engine_answers_and_refuses_unknown_intents(env: dict[str, str]) -> None:
    before = wxshop("keywords", "test", "发票怎么开", env=env)
    assert before.returncode == 0, before.stderr
    assert "intent “human”" not in before.stdout

    refused = wxshop("nlu", "teach", "发票怎么开", "invoices", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "wxshop: unknown intent 'invoices'; `wxshop nlu intents` lists them"
    ]
    taught = wxshop("nlu", "teach", "发票怎么开", "human", env=env)
    assert taught.returncode == 0 and "taught: '发票怎么开' means human" in taught.stdout
    assert "known already" in wxshop("nlu", "teach", "发票怎么开", "human", env=env).stdout

    after = wxshop("keywords", "test", "发票怎么开", env=env)
    assert "transfer_customer_service" in after.stdout, after.stdout

    forgotten = wxshop("nlu", "forget", "发票怎么开", "human", env=env)
    assert forgotten.returncode == 0
    assert "transfer_customer_service" not in wxshop("keywords", "test", "发票怎么开", env=env).stdout


def test_eval_prints_both_figures_and_intents_lists_the_labels(env: dict[str, str], tmp_path) -> None:
    result = wxshop("nlu", "eval", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "heldout" in result.stdout and "dev" in result.stdout
    labelled = tmp_path / "mine.tsv"
    labelled.write_text("tracking\t我的包裹到哪了\nask_gift\t新人有礼物吗\n", encoding="utf-8")
    mine = wxshop("nlu", "eval", str(labelled), env=env)
    assert mine.returncode == 0 and "2" in mine.stdout
    intents = wxshop("nlu", "intents", env=env)
    assert "ask_return_policy" in intents.stdout and "了解退换货政策" in intents.stdout
    empty = wxshop("nlu", "unanswered", env=env)
    assert empty.returncode == 0 and "nothing unanswered" in empty.stdout


def test_a_bad_examples_file_or_eval_file_is_one_line(env: dict[str, str], tmp_path) -> None:
    broken = tmp_path / "examples.toml"
    broken.write_text("[[examples]]\nintent = \n", encoding="utf-8")
    for path in (tmp_path / "missing.toml", broken):
        result = wxshop("keywords", "test", "你好", env={**env, "WXSHOP_NLU__EXAMPLES_FILE": str(path)})
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1].startswith(f"wxshop: {path}"), result.stderr
        assert "Traceback" not in result.stderr
    garbage = tmp_path / "garbage.tsv"
    garbage.write_text("no tab here\n", encoding="utf-8")
    for path in (tmp_path / "missing.tsv", garbage):
        result = wxshop("nlu", "eval", str(path), env=env)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
