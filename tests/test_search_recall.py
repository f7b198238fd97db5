"""Search finds what shoppers mean: synonyms, broad words, shared word parts, colours and capacities in SKUs,
traditional characters, pinyin; any word may be missing; a miss offers the closest products and says what it
looked for; the operator's lexicon file extends the shipped one and is read again on every rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.process.config import Config, load
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku
from store.core.db import open_database
from store.search.index import SearchIndex, SearchResult, SearchService
from store.search.lexicon import LexiconError, load_lexicon, parse_lexicon
from tests.support import wxshop

CATALOG = Path(__file__).parent / "data" / "search_recall.csv"


@pytest.fixture
def catalog(migrated: Config) -> Config:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    return migrated


@pytest.fixture
def index(catalog: Config) -> SearchIndex:
    return SearchIndex.build()


def codes(result: SearchResult | tuple) -> list[str]:
    by_id = dict(Product.select(Product.id, Product.code).tuples())
    hits = result.hits if isinstance(result, SearchResult) else result
    return [by_id[h.product_id] for h in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("卫衣", ["R01"]),  # the catalog says 连帽衫
        ("球鞋", ["R03"]),  # 运动鞋; 皮鞋 is not a 球鞋
        ("包包", ["R05"]),
        ("水杯", ["R06"]),
        ("数码产品", ["R07", "R08", "R09"]),  # a broad word finds the narrower ones
        ("鞋子", ["R04", "R03"]),
        ("電飯煲", ["R11", "R10"]),  # traditional characters; 电饭锅 is a synonym (and R11's category)
        ("电饭锅", ["R11", "R10"]),
        ("lianyiqun", ["R12"]),  # pinyin of 连衣裙
        ("連衣裙", ["R12"]),
    ],
)
def test_shoppers_words_find_the_catalogs_products(index: SearchIndex, query: str, expected: list[str]) -> None:
    assert codes(index.search(query)) == expected


def test_a_compound_word_matches_its_parts_and_partial_matches_rank_lower(index: SearchIndex) -> None:
    result = index.search("智能电饭锅")
    assert codes(result)[0] == "R11" and result.hits[0].coverage == 2  # both 智能 and 电饭锅
    assert set(codes(result)[1:]) == {"R08", "R10"}  # one of the words each
    unknown = index.search("电饭盆")  # not a word of the catalog: its character pairs find 电饭煲, 电饭锅, 电饭盒
    assert codes(unknown) == ["R10", "R11", "R15"] and all(h.matches[0].via == "字组" for h in unknown.hits)
    assert not unknown.confident
    smart = index.search("智能电饭盆")
    assert codes(smart)[0] == "R11" and smart.hits[0].coverage == 2


def test_colour_and_capacity_pick_the_sku(index: SearchIndex) -> None:
    for query in ("粉 连衣裙", "粉色连衣裙", "粉红 连衣裙"):
        result = index.search(query)
        assert codes(result) == ["R12"], query
        assert Sku.get_by_id(result.hits[0].sku_id).code == "R12-02" and "粉色" in result.hits[0].spec
    cup = index.search("保温杯 500ml")
    assert Sku.get_by_id(cup.hits[0].sku_id).code == "R06-02"
    assert Sku.get_by_id(index.search("保温杯").hits[0].sku_id).code == "R06-01"


def test_price_words_still_work_with_synonyms(index: SearchIndex) -> None:
    cheapest = index.search("最便宜的水杯")
    assert cheapest.price.cheap and codes(cheapest) == ["R06"] and cheapest.hits[0].price_fen == 6900
    assert codes(index.search("300以内的鞋子")) == ["R03"]
    assert codes(index.search("100到300的数码产品")) == ["R09"]


def test_an_unknown_word_does_not_sink_the_query(index: SearchIndex) -> None:
    result = index.search("卫衣 超级无敌款")
    assert codes(result) == ["R01"] and result.unmatched and not result.confident
    mixed = index.search("连帽衫 皮鞋")  # no product has both: each word's products, none hidden
    assert set(codes(mixed)) == {"R01", "R04"}


def test_a_miss_offers_the_closest_products_and_says_what_it_looked_for(index: SearchIndex) -> None:
    drone = index.search("无人机")
    assert drone.hits == () and drone.looked_for == ("无人机",)
    assert drone.suggestions[0].path.startswith("数码/") and codes(drone.closest) == ["R07", "R08"]
    dear = index.search("200以内的包包")
    assert dear.hits == () and dear.looked_for == ("包包", "手提包")
    assert codes(dear.closest)[0] == "R05"


def test_description_words_find_but_do_not_make_chat_a_search(index: SearchIndex) -> None:
    result = index.search("露营")
    assert codes(result) == ["R16"] and result.hits[0].matches[0].via == "描述"
    assert not result.confident  # "露营" alone is chat, not a product name
    assert index.search("卫衣").confident


def test_the_operators_lexicon_extends_the_shipped_one_and_reloads(catalog: Config, tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text('[synonyms]\n"潮鞋" = ["运动鞋"]\n', encoding="utf-8")
    service = SearchService(lexicon_file=path)
    assert codes(service.search("潮鞋")) == ["R03"]
    assert codes(service.search("卫衣")) == ["R01"]  # the shipped words are still there
    path.write_text('[hypernyms]\n"出游装备" = ["折叠椅", "保温杯"]\n', encoding="utf-8")
    assert codes(service.search("出游装备")) == []  # read again only when the index is rebuilt
    service.rebuild()
    assert set(codes(service.search("出游装备"))) == {"R06", "R16"} and codes(service.search("潮鞋")) == []
    path.write_text("[synonyms]\n潮鞋 = \n", encoding="utf-8")  # broken: the last good lexicon stays
    service.rebuild()
    assert set(codes(service.search("出游装备"))) == {"R06", "R16"}


def test_lexicon_files_are_validated_and_rings_join() -> None:
    merged = load_lexicon().merged(parse_lexicon({"synonyms": {"帽衫": ["卫衣外套"]}}, "operator"))
    assert {"连帽衫", "套头衫", "卫衣外套"} <= merged.synonyms["卫衣"]  # rings sharing 帽衫 are one ring
    assert "卫衣" in merged.synonyms["卫衣外套"]
    for bad in ({"synonym": {}}, {"synonyms": {"a": "b"}}, {"hypernyms": {"a": [1]}}):
        with pytest.raises(LexiconError):
            parse_lexicon(bad, "operator")


def test_config_names_the_lexicon_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[shop]\nsearch_lexicon = "words.toml"\n', encoding="utf-8")
    assert load(path, env={}).shop.search_lexicon_file == tmp_path / "words.toml"
    assert load(path, env={"WXSHOP_SHOP__SEARCH_LEXICON": ""}).shop.search_lexicon_file is None


def test_cli_search_explains_the_ranking(migrated: Config, env: dict[str, str], tmp_path: Path) -> None:
    assert wxshop("catalog", "import", str(CATALOG), env=env).returncode == 0
    found = wxshop("catalog", "search", "電飯煲", "--explain", env=env)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0] == "词: 电饭煲" and lines[1] == "找了: 电饭煲、电饭锅"
    assert lines[3].startswith("字段权重: title 3, tag 2, leaf 2, parent 1, spec 1.5")
    assert lines[4].startswith(" 1. 苏泊尔 智能电饭锅 3L") and lines[5].startswith(
        "      匹配 1/1 个词: 电饭煲 → 电饭锅 [同义] +"
    )
    assert lines[7].startswith("      匹配 1/1 个词: 电饭煲 +")
    assert lines[-1] == "共 2 件商品"
    lexicon = tmp_path / "words.toml"
    lexicon.write_text('[synonyms]\n"潮鞋" = ["运动鞋"]\n', encoding="utf-8")
    own = wxshop("catalog", "search", "潮鞋", "--explain", env={**env, "WXSHOP_SHOP__SEARCH_LEXICON": str(lexicon)})
    assert "李宁 缓震运动鞋" in own.stdout and "潮鞋 → 运动鞋 [同义]" in own.stdout
    reindex = wxshop("catalog", "reindex", env={**env, "WXSHOP_SHOP__SEARCH_LEXICON": str(lexicon)})
    assert reindex.returncode == 0 and "rebuild requested" in reindex.stdout, reindex.stderr
    lexicon.write_text("[synonyms]\n潮鞋 = 1\n", encoding="utf-8")
    broken = wxshop("catalog", "reindex", env={**env, "WXSHOP_SHOP__SEARCH_LEXICON": str(lexicon)})
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr
    missing = wxshop("catalog", "search", "无人机", env=env)
    assert "没找到相关商品（找了: 无人机）" in missing.stdout and "相近: 降噪蓝牙耳机" in missing.stdout
