"""`pipelines.intake.linkage.link_names`: enterprise names resolved to the registry with Splink."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import duckdb
import pytest

from pipelines.intake.linkage import (
    NAME_LINKS,
    NameLinkage,
    alphabet_sql,
    core_code_sql,
    link_names,
    name_keys,
)

CFG = NameLinkage(match_threshold=0.95, review_threshold=0.5)

# (uscc, name, division, former)
REGISTRY = [
    ("91440101MA5AAAAA01", "广州市天河区华兴贸易(广州)有限公司", "440106", False),
    ("91440101MA5AAAAA02", "广州市恒通信息技术有限公司", "440104", False),
    ("91440300MA5AAAAA03", "深圳市鑫达隆电子科技有限公司", "440305", False),
    ("91440101MA5AAAAA04", "广州市新锐数码科技有限公司", "440104", False),
    ("91440101MA5AAAAA04", "广州市旧城餐饮管理有限公司", "440104", True),
    ("91440101MA5AAAAA05", "广州市天河区宏远物流有限公司", "440106", False),
    ("91440600MA5AAAAA06", "佛山市南海区宏远物流有限公司", "440605", False),
    ("91440101MA5AAAAA07", "广州市锦绣园林绿化工程有限公司", "440113", False),
    # others, near some of the above
    ("91440101MA5AAAAA08", "广州市华兴科技有限公司", "440106", False),
    ("91440101MA5AAAAA09", "广州市恒通物流有限公司", "440104", False),
    ("91440101MA5AAAAA10", "广州市锦绣餐饮管理有限公司", "440103", False),
    ("91440101MA5AAAAA11", "广州市天河区鑫达贸易商行", "440106", False),
    ("91440101MA5AAAAA12", "广州市绿洲园林工程有限公司", "440104", False),
    ("91440101MA5AAAAA13", "广州市新锐数码印刷厂", "440104", False),
]


def _connect(records: Sequence[tuple[int, str | None, str | None]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE registry (uscc VARCHAR, name VARCHAR, division VARCHAR, former BOOLEAN)"
    )
    con.executemany("INSERT INTO registry VALUES (?, ?, ?, ?)", REGISTRY)
    con.execute("CREATE TABLE records (_row BIGINT, name VARCHAR, division VARCHAR)")
    if records:
        con.executemany("INSERT INTO records VALUES (?, ?, ?)", records)
    return con


def _links(
    records: Sequence[tuple[int, str | None, str | None]], cfg: NameLinkage = CFG
) -> dict[int, dict[str, object]]:
    con = _connect(records)
    table = link_names(con, "records", "registry", cfg)
    assert table == NAME_LINKS
    cursor = con.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def test_variants_equal_once_normalised_are_matched() -> None:
    links = _links(
        [
            (1, "广州市天河区华兴贸易（广州）有限公司", None),  # full-width brackets
            (2, "广州市 天河区 华兴贸易 (广州) 有限公司", None),  # spaces
            (3, "广州市恒通信息技术有限责任公司", None),  # 有限责任公司 for 有限公司
            (4, "鑫达隆电子科技有限公司", None),  # city prefix dropped
            (5, "锦绣园林绿化工程有限公司", "440113"),  # prefix dropped, division given
        ]
    )
    expected = {
        1: "91440101MA5AAAAA01",
        2: "91440101MA5AAAAA01",
        3: "91440101MA5AAAAA02",
        4: "91440300MA5AAAAA03",
        5: "91440101MA5AAAAA07",
    }
    assert {row: link["uscc"] for row, link in links.items()} == expected
    assert all(link["decision"] == "match" for link in links.values())
    assert all(float(str(link["probability"])) >= 0.95 for link in links.values())
    assert links[1]["matched_name"] == "广州市天河区华兴贸易(广州)有限公司"


def test_one_changed_character_goes_to_review_or_with_the_division_to_match() -> None:
    # 锦秀 for 锦绣: one character of an eight-character core (Jaro-Winkler 0.925 over
    # characters). Without a division that is worth a look, not an automatic link; the same
    # division makes it a match.
    links = _links(
        [
            (1, "广州市锦秀园林绿化工程有限公司", None),
            (2, "广州市锦秀园林绿化工程有限公司", "440113"),
        ]
    )
    assert links[1]["uscc"] == links[2]["uscc"] == "91440101MA5AAAAA07"
    assert links[1]["decision"] == "review"
    assert 0.5 <= float(str(links[1]["probability"])) < 0.95
    assert float(str(links[1]["second_probability"])) < 0.5  # review for doubt, not ambiguity
    assert links[2]["decision"] == "match"


def test_another_prefix_goes_to_review_unless_the_division_agrees() -> None:
    # 广东省 for 广州市: the same core, but the prefix differs (two cities' enterprises can share
    # a trade name), so review; the registry's division on the record makes it a match.
    links = _links(
        [
            (1, "广东省恒通信息技术有限公司", None),
            (2, "广东省恒通信息技术有限公司", "440104"),
        ]
    )
    assert links[1]["uscc"] == links[2]["uscc"] == "91440101MA5AAAAA02"
    assert (links[1]["decision"], links[2]["decision"]) == ("review", "match")


def test_a_former_name_resolves_to_its_enterprise() -> None:
    links = _links([(7, "广州市旧城餐饮管理有限公司", None)])
    assert links[7]["uscc"] == "91440101MA5AAAAA04"
    assert links[7]["matched_name"] == "广州市旧城餐饮管理有限公司"
    assert links[7]["decision"] == "match"


def test_the_division_decides_between_enterprises_of_the_same_core() -> None:
    links = _links(
        [
            (1, "宏远物流有限公司", "440106"),
            (2, "宏远物流有限公司", "440605"),
            (3, "宏远物流有限公司", None),
        ]
    )
    tianhe, nanhai = "91440101MA5AAAAA05", "91440600MA5AAAAA06"
    assert (links[1]["uscc"], links[1]["second_uscc"], links[1]["decision"]) == (
        tianhe,
        nanhai,
        "match",
    )
    assert (links[2]["uscc"], links[2]["second_uscc"], links[2]["decision"]) == (
        nanhai,
        tianhe,
        "match",
    )
    # Without a division the two are equally likely: ambiguous, so review (ties by USCC).
    assert links[3]["decision"] == "review"
    assert {links[3]["uscc"], links[3]["second_uscc"]} == {tianhe, nanhai}
    assert links[3]["probability"] == links[3]["second_probability"]


def test_an_unrelated_name_gets_no_row() -> None:
    links = _links(
        [
            (1, "北京市完全不同建材有限公司", None),
            (2, "广州市华盛机电设备有限公司", "440106"),  # the same city and division only
            (3, "", None),
            (4, None, None),
            (5, "（　）", None),  # nothing left once normalised
        ]
    )
    assert links == {}


def test_same_input_same_table_whatever_the_row_order() -> None:
    records = [
        (1, "广州市天河区华兴贸易（广州）有限公司", None),
        (2, "广州市锦秀园林绿化工程有限公司", None),
        (3, "宏远物流有限公司", None),
        (4, "广州市旧城餐饮管理有限公司", "440104"),
        (5, "北京市完全不同建材有限公司", None),
    ]
    con = _connect(records)
    link_names(con, "records", "registry", CFG)
    first = con.execute(f"SELECT * FROM {NAME_LINKS}").fetchall()
    link_names(con, "records", "registry", CFG)
    assert con.execute(f"SELECT * FROM {NAME_LINKS}").fetchall() == first
    con.execute("CREATE VIEW registry_reversed AS SELECT * FROM registry ORDER BY name DESC")
    con.execute("CREATE VIEW records_reversed AS SELECT * FROM records ORDER BY _row DESC")
    link_names(con, "records_reversed", "registry_reversed", CFG)
    assert con.execute(f"SELECT * FROM {NAME_LINKS}").fetchall() == first
    assert [row[0] for row in first] == sorted(row[0] for row in first)


def test_empty_records_give_an_empty_table_with_the_columns() -> None:
    con = _connect([])
    link_names(con, "records", "registry", CFG)
    assert con.execute(f"DESCRIBE {NAME_LINKS}").fetchall() == [
        (name, kind, "YES", None, None, None)
        for name, kind in [
            ("_row", "BIGINT"),
            ("uscc", "VARCHAR"),
            ("probability", "DOUBLE"),
            ("matched_name", "VARCHAR"),
            ("second_uscc", "VARCHAR"),
            ("second_probability", "DOUBLE"),
            ("decision", "VARCHAR"),
        ]
    ]
    assert con.execute(f"SELECT count(*) FROM {NAME_LINKS}").fetchall() == [(0,)]


def test_the_connection_is_left_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    """Splink's and this module's tables dropped, settings restored, nothing printed."""
    con = _connect([(1, "广州市锦秀园林绿化工程有限公司", None)])
    splink_logger = logging.getLogger("splink")
    before = splink_logger.level
    for progress_bar in (True, False):
        con.execute(f"SET enable_progress_bar = {progress_bar}")
        link_names(con, "records", "registry", CFG)
        setting = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
        assert setting == [(progress_bar,)]
    tables = con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    assert tables == [(NAME_LINKS,), ("records",), ("registry",)]
    assert views == []
    assert splink_logger.level == before
    assert capsys.readouterr() == ("", "")


def test_name_keys() -> None:
    assert name_keys("广东省广州市天河区华兴贸易有限公司") == (
        "广东省广州市天河区华兴贸易有限公司",
        "广东省广州市天河区",
        "华兴贸易",
    )
    assert name_keys("华兴贸易有限公司").core == name_keys("广州市华兴贸易有限责任公司").core
    assert name_keys("新疆维吾尔自治区华兴贸易有限公司").prefix == "新疆维吾尔自治区"
    assert name_keys("天河区华兴便利店").core == "华兴便利"


def test_coded_cores_give_jaro_winkler_over_characters() -> None:
    """On codes, DuckDB's byte-wise Jaro-Winkler equals its value on one letter a character."""
    chinese = "华兴贸易恒通科技锦绣园林绿化工程宏远物流"
    latin = dict(zip(chinese, "ABCDEFGHIJKLMNOPQRST", strict=True))
    rng = random.Random(3)
    pairs = []
    for _ in range(300):
        left = "".join(rng.choices(chinese, k=rng.randint(2, 12)))
        chars = list(left) if rng.random() < 0.7 else rng.choices(chinese, k=rng.randint(2, 12))
        for _ in range(rng.randint(0, 3)):  # changes, insertions, deletions
            at = rng.randrange(len(chars))
            chars[at : at + rng.randint(0, 1)] = rng.choices(chinese, k=rng.randint(0, 1))
            chars = chars or [chinese[0]]
        pairs.append((left, "".join(chars), "X9" + "".join(chars)))
    rows = [
        (
            left,
            other,
            "".join(latin[c] for c in left),
            "".join(latin.get(c, c.lower()) for c in other),
        )
        for left, right, with_ascii in pairs
        for other in (right, with_ascii)
    ]
    con = duckdb.connect()
    con.execute("CREATE TABLE p (l VARCHAR, r VARCHAR, l_latin VARCHAR, r_latin VARCHAR)")
    con.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", rows)
    coded = core_code_sql("r", alphabet_sql("l"))
    own = core_code_sql("l", alphabet_sql("l"))
    differ = con.execute(
        f"""SELECT l, r, jaro_winkler_similarity({own}, {coded}) AS by_code,
                   jaro_winkler_similarity(l_latin, r_latin) AS by_letter
            FROM p WHERE abs(by_code - by_letter) > 1e-12"""
    ).fetchall()
    assert differ == []
    assert len(rows) == 600


def test_a_prior_from_the_registry_size() -> None:
    # Fourteen registry names: a prior of 1/13 makes everything likelier, not different in kind.
    cfg = NameLinkage(match_threshold=0.95, review_threshold=0.5, prior=None)
    links = _links(
        [(1, "鑫达隆电子科技有限公司", None), (2, "北京市完全不同建材有限公司", None)], cfg
    )
    assert list(links) == [1]
    assert (links[1]["uscc"], links[1]["decision"]) == ("91440300MA5AAAAA03", "match")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"match_threshold": 0.5, "review_threshold": 0.9},
        {"match_threshold": 0.9, "review_threshold": 0.0},
        {"match_threshold": 0.9, "review_threshold": 0.5, "prior": 1.0},
        {"match_threshold": 0.9, "review_threshold": 0.5, "max_candidates": 0},
        {"match_threshold": 0.9, "review_threshold": 0.5, "margin": -1.0},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        NameLinkage(**kwargs)  # type: ignore[arg-type]
