"""What a message names besides its intent: a price range, colours, sizes, capacities, a quantity, who it is
for and what for, which order or which item of the last list, and a superlative.

`extract(text)` reads the light form (simplified, half-width, lower case, punctuation kept: "100-200" and
"1.5L" need their signs). Spans are taken in order — order numbers, capacities, sizes, prices, quantities —
and each masks its text, so "500ml" is never a price and "38码" never a quantity. Money is integer fen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.understanding.normalise import light
from dialogs.understanding.numerals import CHINESE_NUMBER, DOZEN, NUMBER, parse_chinese_number

__all__ = ["Capacity", "Entities", "PriceRange", "Quantity", "extract", "extract_with_rest"]

FEN_PER_YUAN = 100
AROUND = 0.2  # "五百左右", "八百块": within 20 % either side
DIGITS_VALUE = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass(frozen=True)
class PriceRange:
    """Bounds in fen; None is open. "200以内" → (None, 20000); "五百左右" → (40000, 60000)."""

    low: int | None
    high: int | None


@dataclass(frozen=True)
class Capacity:
    """An amount in a canonical unit: "ml" (1.5L → 1500), "GB" (1T → 1024), "mAh", "g"."""

    amount: int
    unit: str


@dataclass(frozen=True)
class Quantity:
    count: int
    approximate: bool = False  # "十来个", "两三件"


@dataclass(frozen=True)
class Entities:
    price: PriceRange | None = None
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    capacities: tuple[Capacity, ...] = ()
    quantity: Quantity | None = None
    recipients: tuple[str, ...] = ()
    occasions: tuple[str, ...] = ()
    order_no: str | None = None
    ordinal: int | None = None  # 1-based position in the last list; -1 the last, -2 the one before
    superlative: str | None = None  # cheapest | priciest | newest | bestselling

    def __bool__(self) -> bool:
        return self != _EMPTY


_EMPTY = Entities()

# ---- tables: canonical → the words that mean it ----------------------------------------------------------------


def _aliases(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {alias: canonical for canonical, aliases in table.items() for alias in (canonical, *aliases)}


COLOURS = _aliases({
    "红色": ("红", "大红", "酒红", "酒红色", "枣红", "玫红", "玫红色", "红的"),
    "粉色": ("粉", "粉红", "粉红色", "粉的", "樱花粉"),
    "橙色": ("橙", "橘色", "橘黄", "橙的"),
    "黄色": ("黄", "姜黄", "明黄", "黄的"),
    "绿色": ("绿", "墨绿", "军绿", "军绿色", "墨绿色", "草绿", "绿的"),
    "蓝色": ("蓝", "天蓝", "宝蓝", "藏青", "藏青色", "深蓝", "浅蓝", "雾霾蓝", "海军蓝", "蓝的"),
    "紫色": ("紫", "香芋紫", "紫的"),
    "黑色": ("黑", "纯黑", "黑的"),
    "白色": ("白", "纯白", "米白", "奶白", "白的"),
    "灰色": ("灰", "深灰", "浅灰", "烟灰", "灰的"),
    "棕色": ("棕", "咖啡色", "咖色", "驼色", "焦糖色", "棕的"),
    "米色": ("杏色", "奶茶色", "燕麦色"),
    "卡其色": ("卡其",),
    "金色": ("香槟金",),
    "银色": ("银白",),
})  # fmt: skip
# Compounds whose colour character is no colour: removed before colours are looked for.
NOT_COLOURS = (
    "红包", "网红", "红酒", "红利", "走红", "红茶", "红薯", "白天", "明白", "白条", "白酒", "空白", "黑金", "黑五",
    "拉黑", "黑名单", "蓝牙", "蓝莓", "绿茶", "黄金", "黄油", "灰心", "紫外线", "紫菜", "粉丝", "粉底", "粉饼",
    "奶粉", "面粉", "粉扑", "粉刺", "口红", "红米", "灰尘", "紫砂", "金额", "金卡", "现金", "银行", "黄牛",
    "白领", "白菜", "红烧", "红枣", "红糖",
)  # fmt: skip

RECIPIENTS = _aliases({
    "老师": ("班主任", "教授"),
    "妈妈": ("老妈", "母亲", "我妈", "婆婆", "丈母娘", "岳母"),
    "爸爸": ("老爸", "父亲", "我爸", "公公", "岳父", "老丈人"),
    "男朋友": ("男友", "男票", "老公", "对象"),
    "女朋友": ("女友", "女票", "老婆", "媳妇"),
    "孩子": ("小孩", "儿子", "女儿", "宝宝", "小朋友", "儿童", "侄子", "侄女"),
    "长辈": ("爷爷", "奶奶", "外公", "外婆", "姥姥", "姥爷", "老人"),
    "同事": ("同事们",),
    "领导": ("上司", "上级"),
    "朋友": ("闺蜜", "兄弟", "哥们", "同学", "室友"),
})  # fmt: skip

OCCASIONS = _aliases({
    "露营": ("野营", "户外", "徒步", "爬山", "登山", "野餐"),
    "面试": ("求职", "应聘", "答辩"),
    "生日": ("过生日", "生日礼物"),
    "送礼": ("礼物", "送人", "礼品", "伴手礼", "送礼物"),
    "上班": ("通勤", "办公", "办公室", "职场", "上班族"),
    "运动": ("健身", "跑步", "瑜伽", "健身房", "打球", "游泳", "骑行"),
    "旅行": ("旅游", "出差", "出游", "度假", "海边"),
    "婚礼": ("结婚", "婚宴", "伴娘", "伴郎"),
    "约会": ("相亲", "见家长"),
    "开学": ("上学", "毕业"),
    "节日": ("过年", "春节", "母亲节", "父亲节", "教师节", "情人节", "七夕", "圣诞", "中秋", "六一"),
})  # fmt: skip

SUPERLATIVES = _aliases({
    "cheapest": ("最便宜", "最实惠", "最划算", "价格最低", "最低价", "最低的价"),
    "priciest": ("最贵", "价格最高", "最高档", "最高端"),
    "newest": ("最新", "新款", "新品", "最近上新", "刚上新", "最新款"),
    "bestselling": ("销量最好", "销量最高", "卖得最好", "卖的最好", "卖得最多", "卖的最多", "最火", "最热销",
                    "热销", "爆款", "最受欢迎", "最畅销", "人气最高"),
})  # fmt: skip


def _alternation(words: object) -> re.Pattern[str]:
    return re.compile("|".join(sorted(map(re.escape, words), key=len, reverse=True)))  # type: ignore[call-overload]


_COLOUR = _alternation(COLOURS)
_NOT_COLOUR = _alternation(NOT_COLOURS)
_RECIPIENT = _alternation(RECIPIENTS)
_OCCASION = _alternation(OCCASIONS)
_SUPERLATIVE = _alternation(SUPERLATIVES)

# ---- patterns over the light form ------------------------------------------------------------------------------
_YUAN = r"(?:块钱|块|元|rmb|¥|￥)"
_CLASSIFIERS = "个件只双条套盒瓶箱份支台把本张包袋斤对副罐桶支颗"
_NOT_MONEY_AFTER = rf"(?![{_CLASSIFIERS}天日号码岁克g升l米厘cm小时分秒点年月周位人次倍折%])"
_NUM = NUMBER

_ORDER_NO = re.compile(r"(?<![\d.])(\d{12,32})(?![\d.])")
_CAPACITY = re.compile(r"(\d+(?:\.\d+)?)(ml|毫升|l|升|gb|g|tb|t(?!恤)|mah|毫安)(?![a-z])")
_CAPACITY_CN = re.compile(rf"({CHINESE_NUMBER}|半)(升|毫升)")
_SIZE_LETTER = re.compile(r"(?<![a-z0-9.])(xxxl|xxl|xl|xs|[2-5]xl|[sml])(?:码|号)?(?![a-z])")
_SIZE_SHOE = re.compile(r"(?<![\d.])(3\d|4[0-8])(?:码|号)")
_SIZE_HEIGHT = re.compile(r"(?<!\d)(1[4-9]\d)/(\d{2,3})([ab]?)(?![\d])")
_SIZE_WORD = re.compile(r"均码|加大码|大码|中码|小码|特大号|大号|中号|小号|free ?size")

_PRICE_RANGE = re.compile(rf"({_NUM}){_YUAN}?(?:到|至|-|~|—|－)({_NUM}){_YUAN}?{_NOT_MONEY_AFTER}")
_PRICE_SPAN = re.compile(r"([一二两三四五六七八九])([二两三四五六七八九])([十百千万])" + _YUAN + "?" + _NOT_MONEY_AFTER)
_PRICE_MAX = re.compile(
    rf"(?:(?:不超过|不要超过|别超过|不高于|低于|少于|最多|预算|控制在|价格在|价位在)({_NUM}){_YUAN}?{_NOT_MONEY_AFTER}"
    rf"(?:以内|以下|之内|内)?|({_NUM}){_YUAN}?(?:以内|以下|之内|内|封顶|往下))"
)
_PRICE_MIN = re.compile(
    rf"(?:(?:超过|高于|不低于|至少|起码)({_NUM}){_YUAN}?{_NOT_MONEY_AFTER}|({_NUM}){_YUAN}?(?:以上|往上|之上|起))"
)
_PRICE_AROUND = re.compile(
    rf"(?:(?:大概|大约|差不多)({_NUM}){_YUAN}|({_NUM}){_YUAN}?(?:左右|上下)|({_NUM}){_YUAN}|[¥￥]({_NUM}))"
)
_PRICE_K = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?[kw])(?![a-z])")

_ORDINAL = re.compile(rf"(倒数)?第({_NUM})(?:个|件|款|单|条|种|张|双|套|家)?")
_LAST = re.compile(r"最后(?:一|那)?(?:个|件|款|单|条|种|张|双|套)")
_QUANTITY_RANGE = re.compile(rf"(?<!第)([一二两三四五六七八九])([二两三四五六七八九])([{_CLASSIFIERS}])")
_QUANTITY_ABOUT = re.compile(rf"(?<!第)({_NUM})来([{_CLASSIFIERS}])")
_QUANTITY = re.compile(rf"(?<![第\d.])({_NUM}|半)(打)(?![折球车卡开算包])|(?<![第\d.])({_NUM})([{_CLASSIFIERS}])")
_WHOLE_NUMBER = re.compile(rf"{_NUM}[个件]?")


def extract(text: str) -> Entities:
    """The entities named in one message."""
    return extract_with_rest(text)[0]


def extract_with_rest(text: str) -> tuple[Entities, str]:
    """The entities, and the light form with every span read (colours too) blanked out: what a follow-up
    reader checks is only filler ("有…的吗")."""
    rest = light(text)
    found: dict[str, object] = {}

    if hit := _ORDER_NO.search(rest):
        found["order_no"] = hit[1]
        rest = _masked(rest, hit)
    capacities, rest = _capacities(rest)
    sizes, rest = _sizes(rest)
    price, rest = _price(rest)
    ordinal, rest = _ordinal(rest)
    quantity = _quantity(rest)
    without_compounds = _NOT_COLOUR.sub("　", rest)
    entities = Entities(
        price=price,
        colours=_canonical(_COLOUR, COLOURS, without_compounds),
        sizes=sizes,
        capacities=capacities,
        quantity=quantity,
        recipients=_canonical(_RECIPIENT, RECIPIENTS, rest),
        occasions=_canonical(_OCCASION, OCCASIONS, rest),
        order_no=found.get("order_no"),  # type: ignore[arg-type]
        ordinal=ordinal,
        superlative=next(iter(_canonical(_SUPERLATIVE, SUPERLATIVES, rest)), None),
    )
    if without_compounds != rest:  # "红包", "蓝牙": words of their own, left for the reader to see
        return entities, rest
    return entities, _COLOUR.sub(lambda hit: "　" * len(hit.group()), rest)


def _masked(text: str, hit: re.Match[str]) -> str:
    """Blank out a span already read, keeping positions, so no later pattern reads it again."""
    return text[: hit.start()] + "　" * (hit.end() - hit.start()) + text[hit.end() :]


def _canonical(pattern: re.Pattern[str], table: dict[str, str], text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for hit in pattern.finditer(text):
        seen[table[hit.group()]] = None
    return tuple(seen)


def _capacities(text: str) -> tuple[tuple[Capacity, ...], str]:
    found: list[Capacity] = []
    for hit in list(_CAPACITY.finditer(text)):
        amount, unit = float(hit[1]), hit[2]
        if unit == "g" and amount in (4, 5) and text[hit.end() : hit.end() + 1] in ("网", "手", "信", ""):
            continue  # 4G/5G: the network, not storage
        found.append(_capacity(amount, unit))
        text = _masked(text, hit)
    for hit in list(_CAPACITY_CN.finditer(text)):
        amount = 0.5 if hit[1] == "半" else parse_chinese_number(hit[1])
        if amount is not None:
            found.append(_capacity(float(amount), hit[2]))
            text = _masked(text, hit)
    return tuple(found), text


_STORAGE_SIZES = frozenset({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})


def _capacity(amount: float, unit: str) -> Capacity:
    if unit in ("l", "升"):
        return Capacity(round(amount * 1000), "ml")
    if unit in ("ml", "毫升"):
        return Capacity(round(amount), "ml")
    if unit in ("t", "tb"):
        return Capacity(round(amount * 1024), "GB")
    if unit in ("mah", "毫安"):
        return Capacity(round(amount), "mAh")
    if unit == "g" and amount not in _STORAGE_SIZES:
        return Capacity(round(amount), "g")  # 500g of tea, not 500 GB
    return Capacity(round(amount), "GB")


def _sizes(text: str) -> tuple[tuple[str, ...], str]:
    found: list[str] = []
    for hit in list(_SIZE_HEIGHT.finditer(text)):
        found.append(f"{hit[1]}/{hit[2]}{hit[3].upper()}")
        text = _masked(text, hit)
    for hit in list(_SIZE_SHOE.finditer(text)):
        found.append(f"{hit[1]}码")
        text = _masked(text, hit)
    for hit in list(_SIZE_LETTER.finditer(text)):
        letters = hit[1]
        if letters[0].isdigit():
            letters = "x" * int(letters[0]) + "l"
        found.append(letters.upper())
        text = _masked(text, hit)
    for hit in list(_SIZE_WORD.finditer(text)):
        found.append("均码" if hit.group().startswith("free") else hit.group())
        text = _masked(text, hit)
    return tuple(dict.fromkeys(found)), text


def _yuan(words: str | None) -> int | None:
    value = parse_chinese_number(words) if words else None
    return None if value is None else value * FEN_PER_YUAN


def _price(text: str) -> tuple[PriceRange | None, str]:
    if hit := _PRICE_RANGE.search(text):
        low, high = _yuan(hit[1]), _yuan(hit[2])
        if low is not None and high is not None:
            return PriceRange(min(low, high), max(low, high)), _masked(text, hit)
    if hit := _PRICE_SPAN.search(text):
        unit = parse_chinese_number(hit[3]) or 1
        low, high = DIGITS_VALUE[hit[1]] * unit, DIGITS_VALUE[hit[2]] * unit
        if high == low + unit:
            return PriceRange(low * FEN_PER_YUAN, high * FEN_PER_YUAN), _masked(text, hit)
    if hit := _PRICE_MAX.search(text):
        return PriceRange(None, _yuan(hit[1] or hit[2])), _masked(text, hit)
    if hit := _PRICE_MIN.search(text):
        return PriceRange(_yuan(hit[1] or hit[2]), None), _masked(text, hit)
    if (hit := _PRICE_AROUND.search(text)) or (hit := _PRICE_K.search(text)):
        centre = _yuan(next(group for group in hit.groups() if group))
        if centre is not None:
            return PriceRange(round(centre * (1 - AROUND)), round(centre * (1 + AROUND))), _masked(text, hit)
    return None, text


def _ordinal(text: str) -> tuple[int | None, str]:
    if hit := _LAST.search(text):
        return -1, _masked(text, hit)
    if hit := _ORDINAL.search(text):
        position = parse_chinese_number(hit[2])
        if position:
            return (-position if hit[1] else position), _masked(text, hit)
    return None, text


def _quantity(text: str) -> Quantity | None:
    if hit := _QUANTITY_RANGE.search(text):
        return Quantity(DIGITS_VALUE[hit[2]], approximate=True)
    if _WHOLE_NUMBER.fullmatch(text.strip()):
        count = parse_chinese_number(text.strip().rstrip("个件"))
        return Quantity(count) if count else None
    if hit := _QUANTITY_ABOUT.search(text):
        count = parse_chinese_number(hit[1])
        return Quantity(count, approximate=True) if count else None
    if hit := _QUANTITY.search(text):
        if hit[2]:  # dozens
            times = 0.5 if hit[1] == "半" else parse_chinese_number(hit[1])
            return Quantity(round(times * DOZEN)) if times else None
        count = parse_chinese_number(hit[3])
        return Quantity(count) if count else None
    return None
