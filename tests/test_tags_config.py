"""The `[tags]` section and `[[menu.conditional]]` tables of config.toml: typed, checked, one line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.process.config import ConfigError, load
from tests.support import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_has_the_black_gold_menu_and_the_tag_defaults() -> None:
    config = load(ROOT / "config.toml", env={})
    assert [b["name"] for b in config.tag_menus["黑金会员"]][:2] == ["逛商城", "黑金专享"]
    assert (config.tags.sync_at, config.tags.batch_size, config.tags.tier_tags) == ("04:40", 50, True)


def test_tags_keys_are_checked_and_env_overrides_them(tmp_path: Path) -> None:
    path = write(tmp_path, '[tags]\nbatch_size = 20\nsegments = ["高价值"]\n')
    config = load(path, env={"WXSHOP_TAGS__BATCHES_PER_RUN": "3"})
    assert (config.tags.batch_size, config.tags.segments, config.tags.batches_per_run) == (20, ("高价值",), 3)
    with pytest.raises(ConfigError, match=r"\[tags\] batch_size: expected 1..50"):
        load(write(tmp_path, "[tags]\nbatch_size = 51\n"), env={})
    with pytest.raises(ConfigError, match=r"\[tags\] sync_at: expected HH:MM"):
        load(write(tmp_path, '[tags]\nsync_at = "25:00"\n'), env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[menu.conditional]]\nname = "x"\n', "expected tag"),
        ('[[menu.conditional]]\ntag = "A"\nbutton = []\n[[menu.conditional]]\ntag = "A"\nbutton = []\n', "two menus"),
        ("[menu]\nconditional = [1]\n", "expected tag"),
        ("[menu]\nconditional = 3\n", "expected \\[\\[menu.conditional\\]\\]"),
        ("[tag_menus]\nx = 1\n", "unknown section"),
    ],
)
def test_a_bad_conditional_menu_table_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, text), env={})
