"""The classifier's form of a message: traditional → simplified, full-width → half-width, no emoji, typos fixed."""

from __future__ import annotations

import pytest

from dialogs.normalize import normalize
from dialogs.understanding import normalise, pinyin, pinyin_initials
from dialogs.understanding.normalise import light, to_simplified


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("快遞到哪裡了？", "快递到哪里了"),
        ("單子不要了，幫我取消", "单子不要了帮我取消"),
        ("頭髮乾淨", "头发干净"),  # phrase-aware: 髮 → 发, 乾 → 干 only where they mean so
        ("ＶＩＰ怎麼升級！", "vip怎么升级"),
        ("１００元以內", "100元以内"),
        ("Hello World", "helloworld"),
        ("在线客服呢？？😭😭", "在线客服呢"),
        ("❤️谢谢", "谢谢"),
        ("哈哈😂", "哈哈哈哈"),
        ("👌", "好的"),
        ("🙏", "谢谢"),
        ("拜拜👋", "拜拜拜拜"),
        ("优惠卷咋用", "优惠券咋用"),
        ("快滴到哪了", "快递到哪了"),
        ("积份多少", "积分多少"),
        ("神马时候发货", "什么时候发货"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected
    assert normalise(expected) == expected  # idempotent


def test_light_keeps_the_signs_entities_need() -> None:
    assert light("１００－２００塊，1.5L") == "100-200块,1.5l"
    assert to_simplified("ascii only") == "ascii only"


def test_the_keyword_normaliser_is_unchanged() -> None:
    """The matcher's hot-path normaliser keeps symbols and traditional characters: operators' rules rely on it."""
    assert normalize("ＶＩＰ！") == "vip"
    assert normalize("快遞❤️") == "快遞❤"
    assert normalize("v i p") == "vip"


def test_pinyin() -> None:
    assert pinyin("连衣裙") == "lianyiqun"
    assert pinyin("連衣裙") == "lianyiqun"
    assert pinyin("iPhone手机壳") == "iphoneshoujike"
    assert pinyin_initials("蓝牙耳机") == "lyej"
