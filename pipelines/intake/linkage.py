"""Probabilistic resolution of enterprise names (企业名称) to the registry's USCC, with Splink on DuckDB.

Some departments identify an enterprise only by its name, and not always the registry's
spelling: full-width brackets, a dropped or different administrative prefix (广州市 / 广东省),
有限责任公司 for 有限公司, a mistyped character, a former name (曾用名). Exact matches of the
normalised name are resolved elsewhere; `link_names` scores the rest against every name of the
registry, current and former, and writes one row per record it can propose an enterprise for:
resolved (``decision = 'match'``) or for a person to check (``'review'``).

Keys of a name
--------------
Computed in SQL (`full_name_sql`, `unprefixed_sql`, `prefix_sql`, `core_name_sql`;
`name_keys` runs them on one string):

* *full name*: everything that is not a letter or a digit removed (spaces, punctuation, every
  kind of bracket, full-width ones too), full-width letters and digits made half-width (the part
  of NFKC that occurs in names), upper case;
* *prefix*: the leading administrative units: at most one province-level (``…省``,
  ``…自治区``), then one prefecture-level (``…市``, ``…自治州``, ``…地区``, ``…盟``), then one
  county-level (``…区``, ``…县``, ``…市``, ``…旗``, ``…自治县``, ``…自治旗``), each two to four
  characters before its ending (up to nine for the autonomous ones), in that order. A regular
  expression (`PREFIX_PATTERNS`), not a gazetteer: it cannot tell 广州市 from 华兴超市, so if
  stripping would leave a core under two characters the county-level unit, then the
  prefecture-level one, then the province-level one are given back (广州市华兴超市有限公司 keeps
  the core 华兴超市);
* *core name*: the full name without its prefix and without one trailing legal form of
  `LEGAL_FORMS` (有限责任公司, 有限公司, 分公司, 个体工商户, 合伙企业(有限合伙), 经营部, 店…).

The model
---------
Splink, link_only, records on the left and registry names on the right, with m and u set here
rather than trained (no EM, no sampled u: deterministic, and the same on a ten-row test
registry as on a province's). Weights are log2(m/u), in bits:

=====================================  ======  =======  =====
level                                  m       u        bits
=====================================  ======  =======  =====
**name**: either core null             null level       0
full names equal                       0.60    1e-10    +32.5
cores equal                            0.25    2e-9     +26.9
core Jaro-Winkler >= 0.95              0.07    4e-9     +24.1
core Jaro-Winkler >= 0.88              0.05    1.2e-8   +22.0
core Jaro-Winkler >= 0.80              0.02    8e-8     +17.9
else                                   0.01    0.99999  -6.6
**prefix**: either has none            null level       0
equal                                  0.65    0.25     +1.4
one extends the other                  0.30    0.15     +1.0
else                                   0.05    0.60     -3.6
**division**: either null              null level       0
equal                                  0.85    0.05     +4.1
same prefecture (first four digits)    0.10    0.20     -1.0
else                                   0.05    0.75     -3.9
**former**: the registry name is one   0.15    0.25     -0.7
else (a current name)                  0.85    0.75     +0.2
=====================================  ======  =======  =====

The prior (`NameLinkage.prior`, Splink's ``probability_two_random_records_match``) is 1e-6,
-19.9 bits: one enterprise in a province's registry. The u values of the name levels are not
"one over the registry size": names are unique within a registration authority, so unrelated
enterprises share a full name or a core far less often than that. They were set for these
outcomes, without a division: the same full name 0.9999; the same core with the prefix dropped
0.993, with the same prefix 0.997, with another prefix 0.92 (review; 0.995 with the same
division); one character changed in a core of six or seven characters (Jaro-Winkler 0.88-0.95)
0.92 with the same prefix, 0.83 without one (review; 0.995 with the same division); a core of
eight or more characters changed near its end (Jaro-Winkler >= 0.95) 0.98 with the same prefix
(match); Jaro-Winkler 0.80-0.88 (one character of a four-character core) 0.42 with the same
prefix (nothing; 0.93, review, with the same division); else nothing. A prefix that differs
counts against (two enterprises of one trade name in two cities are two enterprises) more than
the same prefix counts for (a city's bureau sees its own city's prefix on most names).

Jaro-Winkler is Splink's ``JaroWinklerLevel`` on a coded core (`core_code_sql`): DuckDB's
``jaro_winkler_similarity`` works on UTF-8 bytes, which makes any two Chinese names look alike
(华兴贸易 / 恒通科技: 0.39 instead of 0). Each record's core is written with one ASCII character
per distinct character, and each candidate registry core with the same record's letters, so
that the byte-wise similarity of the codes is the similarity over characters.

Blocking
--------
Computed here in DuckDB and handed to Splink as its blocked pairs
(``linker.table_management.register_blocked_pairs_for_predict``). The blocking keys of a core
are its character bigrams, its pairs of characters one apart (which survive a changed character
between them) and its first character with its last two (`_blocking_keys_sql`). A registry name
is a candidate for a record when it has the same core, or shares at least
`NameLinkage.min_shared_bigrams` keys with it (all of the record's usable keys, if fewer). Keys
found in more than ``max(max_bigram_share × registry names, min_bigram_limit)`` registry names
(贸易, 科技, 咨询…) are not used. Each record keeps its `NameLinkage.max_candidates` best
candidates: the same full name, the same core, most shared keys, the same prefix, the same
division, the closest length, then the registry's order by USCC and name (deterministic, whatever
the order of the input rows). Splink's right-hand input holds one row per candidate pair (the
registry name, coded for its record); its left-hand one, the records.

Decision
--------
Per record and USCC the best of the enterprise's names counts. The best USCC is a ``'match'``
when its probability is at least `NameLinkage.match_threshold` and it is clearly ahead of the
second USCC: the second is below `NameLinkage.review_threshold`, or the best's match weight is
`NameLinkage.margin` bits above the second's (the best is 2**margin times as likely). Else, at
or above the review threshold, ``'review'``; below it, no row.

Splink and DuckDB
-----------------
Splink runs on the caller's connection (``DuckDBAPI(con)``), with its logger (``splink``) at
WARNING or above for the call and ``Linker(..., log_level=None)`` so that it adds no handler of
its own; DuckDB's progress bar is off for the call. Splink's tables and this module's temporary
ones (``__name_links_*``) are dropped before `link_names` returns; nothing is written outside
DuckDB. `_demo_scale` (``python -m pipelines.intake.linkage``) times a synthetic run at a
million registry names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import duckdb

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator

__all__ = [
    "LEGAL_FORMS",
    "NAME_LINKS",
    "PREFIX_PATTERNS",
    "NameKeys",
    "NameLinkage",
    "alphabet_sql",
    "core_code_sql",
    "core_name_sql",
    "full_name_sql",
    "link_names",
    "name_keys",
    "prefix_sql",
    "unprefixed_sql",
]

#: The table `link_names` creates (and replaces).
NAME_LINKS = "name_links"

#: Legal forms removed from the end of a name for its core (the longest that ends it).
LEGAL_FORMS = (
    "有限责任公司",
    "股份有限公司",
    "有限公司",
    "分公司",
    "公司",
    "个体工商户",
    "合伙企业有限合伙",
    "合伙企业普通合伙",
    "有限合伙",
    "普通合伙",
    "合伙企业",
    "个人独资企业",
    "经营部",
    "商行",
    "店",
    "厂",
)

_PROVINCE = r"(?:\p{Han}{2,9}自治区|\p{Han}{2,3}省)"
_PREFECTURE = r"(?:\p{Han}{2,9}自治州|\p{Han}{2,4}(?:地区|市|盟))"
_COUNTY = r"(?:\p{Han}{2,9}自治[县旗]|\p{Han}{2,4}[区县市旗])"

#: The administrative prefixes tried, most stripped first (the last: none).
PREFIX_PATTERNS = (
    f"^{_PROVINCE}?{_PREFECTURE}?{_COUNTY}?",
    f"^{_PROVINCE}?{_PREFECTURE}?",
    f"^{_PROVINCE}?",
    "",
)

#: The shortest core kept; a shorter one gives back prefix units, then the legal form.
_MIN_CORE = 2
_SUFFIX = "(?:" + "|".join(LEGAL_FORMS) + ")$"
_FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
_HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F))
# The letters of `core_code_sql`: ASCII characters no core has (a core has letters and digits,
# upper case) but ~, which codes the characters a record's core does not have.
_CODES = "".join(chr(c) for c in (*range(0x01, 0x30), *range(0x3A, 0x41), *range(0x5B, 0x7E)))
_NOT_CODES = r"[^\x01-\x2F\x3A-\x40\x5B-\x7D]"

_PREFIX = "__name_links_"
# This module's temporary tables, on the caller's connection for the duration of a call.
_RECORDS = f"{_PREFIX}records"  # the records' keys (a Splink input)
_REGISTRY_ALL = f"{_PREFIX}registry_all"  # every registry name's keys
_RECORD_KEYS = f"{_PREFIX}record_keys"  # (unique_id, bg): the records' blocking keys
_KEY_COUNTS = f"{_PREFIX}key_counts"  # (bg, n): registry names having each record key
_POSTINGS = f"{_PREFIX}postings"  # (rid, bg): registry names of the records' usable keys
_CANDIDATES = f"{_PREFIX}candidates"  # (pair, rec, rid): what Splink scores
# Splink's right-hand input: per candidate pair, the registry name's keys, coded for the record.
# Its left-hand one is _RECORDS; both have the same columns, as Splink wants.
_REGISTRY = f"{_PREFIX}registry"
_PAIRS = f"{_PREFIX}pairs"  # the candidates as Splink's blocked pairs
_SCORED = f"{_PREFIX}scored"  # (pair, match_weight, match_probability)
_TEMPS = (
    _RECORDS,
    _REGISTRY_ALL,
    _RECORD_KEYS,
    _KEY_COUNTS,
    _POSTINGS,
    _CANDIDATES,
    _REGISTRY,
    _PAIRS,
    _SCORED,
)
# Splink's source_dataset values, and its separator in the ids of blocked pairs
# (splink.internals.unique_id_concat.CONCAT_SEPARATOR).
_RECORDS_SOURCE = f"{_PREFIX}records_input"
_REGISTRY_SOURCE = f"{_PREFIX}registry_input"
_SPLINK_ID_SEPARATOR = "-__-"

logger = logging.getLogger(__name__)


def _literal(text: str) -> str:
    """A SQL string literal.

    >>> _literal("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def full_name_sql(column: str) -> str:
    """SQL for the normalised full name of ``column``: letters and digits, half-width, upper case."""
    # Punctuation and spaces go first; DuckDB's translate() is slow (4 s a million names), so
    # only names with full-width letters or digits left go through it.
    kept = rf"regexp_replace({column}, '[^\p{{L}}\p{{N}}]+', '', 'g')"
    half = f"translate({kept}, {_literal(_FULLWIDTH)}, {_literal(_HALFWIDTH)})"
    wide = r"'[\x{FF10}-\x{FF19}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}]'"
    return f"upper(CASE WHEN regexp_matches({kept}, {wide}) THEN {half} ELSE {kept} END)"


def _strip_legal_form(column: str) -> str:
    return f"regexp_replace({column}, {_literal(_SUFFIX)}, '')"


def unprefixed_sql(full: str) -> str:
    """SQL for the full name ``full`` without its prefix.

    The most-stripped of `PREFIX_PATTERNS` that leaves a core of at least two characters.
    """
    options = [f"regexp_replace({full}, {_literal(p)}, '')" for p in PREFIX_PATTERNS[:-1]]
    whens = " ".join(
        f"WHEN length({_strip_legal_form(o)}) >= {_MIN_CORE} THEN {o}" for o in options
    )
    return f"CASE {whens} ELSE {full} END"


def prefix_sql(full: str, unprefixed: str) -> str:
    """SQL for the prefix that `unprefixed_sql` removed from ``full`` (NULL when none)."""
    return f"nullif(left({full}, length({full}) - length({unprefixed})), '')"


def core_name_sql(unprefixed: str) -> str:
    """SQL for the core name: ``unprefixed`` (`unprefixed_sql`) without its legal form."""
    core = _strip_legal_form(unprefixed)
    return f"CASE WHEN length({core}) >= {_MIN_CORE} THEN {core} ELSE {unprefixed} END"


def _keys_sql(name: str, source: str) -> str:
    """The columns of the query ``source`` and the keys of its raw name ``name``."""
    return f"""SELECT * EXCLUDE (unprefixed), {prefix_sql("full_name", "unprefixed")} AS prefix,
               {core_name_sql("unprefixed")} AS core_name
        FROM (SELECT *, {unprefixed_sql("full_name")} AS unprefixed
              FROM (SELECT *, {full_name_sql(name)} AS full_name FROM ({source})))"""


def alphabet_sql(core: str) -> str:
    """SQL for the distinct characters of ``core``, sorted, as one string."""
    return f"array_to_string(list_sort(list_distinct(string_split({core}, ''))), '')"


def core_code_sql(core: str, alphabet: str) -> str:
    """SQL for ``core`` written with one ASCII character per character of ``alphabet``.

    DuckDB's ``jaro_winkler_similarity`` works on UTF-8 bytes, which makes any two Chinese
    names look alike; on codes it is the similarity over characters. A record's core is coded
    with its own `alphabet_sql`; a registry core paired with it with the record's alphabet,
    each character the record does not have becoming ``~`` (it can match none of the record's,
    which is all Jaro-Winkler needs to know). An alphabet over 89 characters, which no name
    has, leaves the core as it is.

    >>> def jw(record: str, registry: str) -> tuple[float, float]:
    ...     code = core_code_sql("$2", alphabet_sql("$1"))
    ...     sql = f"SELECT jaro_winkler_similarity({core_code_sql('$1', alphabet_sql('$1'))}, {code})"
    ...     with duckdb.connect() as con:
    ...         ((by_char,),) = con.execute(sql, [record, registry]).fetchall()
    ...         ((by_byte,),) = con.execute(
    ...             "SELECT jaro_winkler_similarity($1, $2)", [record, registry]
    ...         ).fetchall()
    ...     return round(by_char, 3), round(by_byte, 3)
    >>> jw("华兴贸易", "恒通科技")
    (0.0, 0.389)
    >>> jw("华兴贸易", "华兴科技")
    (0.667, 0.833)
    >>> jw("锦秀园林绿化工程", "锦绣园林绿化工程")
    (0.925, 0.93)
    >>> jw("ABC", "ABD")  # ASCII alike either way
    (0.822, 0.822)
    """
    to = f"left({_literal(_CODES)}, length({alphabet}))"
    coded = f"regexp_replace(translate({core}, {alphabet}, {to}), '{_NOT_CODES}', '~', 'g')"
    return f"CASE WHEN length({alphabet}) <= {len(_CODES)} THEN {coded} ELSE {core} END"


class NameKeys(NamedTuple):
    """The keys `link_names` compares: normalised full name, prefix, core name."""

    full: str
    prefix: str | None
    core: str


def name_keys(name: str) -> NameKeys:
    """The keys of one name, as `link_names` computes them.

    >>> name_keys("广州市天河区华兴贸易有限责任公司")
    NameKeys(full='广州市天河区华兴贸易有限责任公司', prefix='广州市天河区', core='华兴贸易')
    >>> name_keys("华兴贸易（广州） 有限公司")
    NameKeys(full='华兴贸易广州有限公司', prefix=None, core='华兴贸易广州')
    >>> name_keys("广东省华兴贸易股份有限公司")
    NameKeys(full='广东省华兴贸易股份有限公司', prefix='广东省', core='华兴贸易')
    >>> name_keys("广州市华兴超市有限公司")
    NameKeys(full='广州市华兴超市有限公司', prefix='广州市', core='华兴超市')
    >>> name_keys("华兴投资合伙企业(有限合伙)")
    NameKeys(full='华兴投资合伙企业有限合伙', prefix=None, core='华兴投资')
    >>> name_keys("ｓｕｎ　ｆｌｏｗｅｒ　Ｃｏ．")
    NameKeys(full='SUNFLOWERCO', prefix=None, core='SUNFLOWERCO')
    """
    sql = _keys_sql("raw", "SELECT CAST($1 AS VARCHAR) AS raw")
    with duckdb.connect() as con:
        ((full, prefix, core),) = con.execute(
            f"SELECT full_name, prefix, core_name FROM ({sql})", [name]
        ).fetchall()
    return NameKeys(str(full), None if prefix is None else str(prefix), str(core))


@dataclass(frozen=True)
class NameLinkage:
    """Thresholds and knobs of `link_names`.

    ``match_threshold``: probability at or above which a name is resolved automatically (if
    clearly ahead of the second enterprise). ``review_threshold``: at or above which, and below a
    match, it goes to review. ``margin``: lead in match weight, in bits, over a second enterprise
    itself at or above the review threshold that still counts as clearly ahead. ``prior``:
    Splink's ``probability_two_random_records_match`` (None: one over the registry's USCCs; the
    m and u values are set for the default, see the module docstring). ``max_candidates``:
    registry names scored per record. ``min_shared_bigrams``: blocking keys a candidate shares
    with the record at least. ``max_bigram_share``, ``min_bigram_limit``: keys of more than
    ``max(max_bigram_share × registry names, min_bigram_limit)`` registry names are not used.
    """

    match_threshold: float
    review_threshold: float
    margin: float = 4.0
    prior: float | None = 1e-6
    max_candidates: int = 20
    min_shared_bigrams: int = 2
    max_bigram_share: float = 0.001
    min_bigram_limit: int = 200

    def __post_init__(self) -> None:
        if not 0.0 < self.review_threshold <= self.match_threshold <= 1.0:
            raise ValueError(
                "need 0 < review_threshold <= match_threshold <= 1, got "
                f"{self.review_threshold} and {self.match_threshold}"
            )
        if self.prior is not None and not 0.0 < self.prior < 1.0:
            raise ValueError(f"prior must be in (0, 1), got {self.prior}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if min(self.max_candidates, self.min_shared_bigrams, self.min_bigram_limit) < 1:
            raise ValueError("max_candidates, min_shared_bigrams and min_bigram_limit must be >= 1")
        if not 0.0 < self.max_bigram_share <= 1.0:
            raise ValueError(f"max_bigram_share must be in (0, 1], got {self.max_bigram_share}")


def link_names(
    con: duckdb.DuckDBPyConnection, records: str, registry: str, cfg: NameLinkage
) -> str:
    """Propose a registry USCC for each record's name; creates `NAME_LINKS`, returns its name.

    ``records``: a table or view with ``_row BIGINT`` (unique), ``name VARCHAR``, ``division
    VARCHAR`` (6 digits, or NULL). ``registry``: ``uscc VARCHAR``, ``name VARCHAR``, ``division
    VARCHAR`` (or NULL), ``former BOOLEAN`` (the name is a former name); several rows per USCC.
    ``name_links`` (replaced) has one row per record whose best candidate is at or above the
    review threshold, in ``_row`` order: ``_row BIGINT, uscc VARCHAR, probability DOUBLE,
    matched_name VARCHAR`` (the registry name that scored best), ``second_uscc VARCHAR,
    second_probability DOUBLE`` (the next enterprise among the scored candidates, whatever its
    probability; NULL when none), ``decision VARCHAR`` (``'match'`` or ``'review'``). Records
    with no name, or none left once normalised, get no row.
    """
    started = time.perf_counter()
    with _no_progress_bar(con):
        try:
            n_registry, n_uscc = _prepare(con, records, registry)
            if _block(con, cfg, n_registry):
                prior = cfg.prior if cfg.prior is not None else 1.0 / max(n_uscc, 2)
                with _quiet_splink():
                    _score_with_splink(con, prior)
            else:
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE {_SCORED} (
                    pair BIGINT, match_weight DOUBLE, match_probability DOUBLE)"""
                )
            _decide(con, cfg)
        finally:
            for table in _TEMPS:
                con.execute(f"DROP TABLE IF EXISTS {table}")
    logger.debug("link_names: %.1f s in all", time.perf_counter() - started)
    return NAME_LINKS


@contextmanager
def _quiet_splink() -> Iterator[None]:
    """Splink's logger at WARNING (at least) for the duration, then as it was."""
    splink_logger = logging.getLogger("splink")
    before = splink_logger.level
    if before < logging.WARNING:
        splink_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        splink_logger.setLevel(before)


@contextmanager
def _no_progress_bar(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's progress bar (printed for queries over two seconds) off, then as it was."""
    ((before,),) = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        # in Jupyter without ipywidgets DuckDB refuses to touch the setting: leave it as it is
        yield
        return
    try:
        yield
    finally:
        con.execute(f"SET enable_progress_bar = {'true' if before else 'false'}")


def _run(con: duckdb.DuckDBPyConnection, sql: str, step: str) -> None:
    started = time.perf_counter()
    con.execute(sql)
    logger.debug("link_names, %s: %.2f s", step, time.perf_counter() - started)


def _one_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, ...]:
    # fetchall, not fetchone: DuckDB 2 refuses any further work on a connection whose last
    # execute() result was not read to its end.
    (row,) = con.execute(sql).fetchall()
    return tuple(int(v) for v in row)


def _prepare(con: duckdb.DuckDBPyConnection, records: str, registry: str) -> tuple[int, int]:
    """The keys of the records and of every registry name; registry names and USCCs."""
    records_sql = _keys_sql(
        "raw",
        f"""SELECT CAST(_row AS BIGINT) AS unique_id, CAST(name AS VARCHAR) AS raw,
               CAST(division AS VARCHAR) AS division, CAST(NULL AS VARCHAR) AS uscc,
               CAST(NULL AS VARCHAR) AS name, false AS former
        FROM {records} WHERE name IS NOT NULL""",
    )
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_RECORDS} AS
        SELECT unique_id, full_name, prefix, core_name,
               {core_code_sql("core_name", alphabet_sql("core_name"))} AS core_code,
               division, uscc, name, former
        FROM ({records_sql}) WHERE full_name <> ''""",
        "record keys",
    )
    registry_sql = _keys_sql(
        "name",
        f"""SELECT CAST(name AS VARCHAR) AS name, CAST(division AS VARCHAR) AS division,
               CAST(uscc AS VARCHAR) AS uscc, coalesce(CAST(former AS BOOLEAN), false) AS former
        FROM {registry} WHERE name IS NOT NULL AND uscc IS NOT NULL""",
    )
    # The keys first, in parallel; then the ids, in the order of (uscc, name, division, former)
    # so that ties between candidates break the same way whatever the registry's row order.
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_REGISTRY_ALL} AS
        SELECT CAST(row_number() OVER (ORDER BY uscc, name, division, former) AS BIGINT)
                   AS unique_id, *
        FROM (SELECT full_name, prefix, core_name, division, uscc, name, former
              FROM ({registry_sql}) WHERE full_name <> '')""",
        "registry keys",
    )
    n_registry, n_uscc = _one_row(
        con, f"SELECT count(*), count(DISTINCT uscc) FROM {_REGISTRY_ALL}"
    )
    return n_registry, n_uscc


def _blocking_keys_sql(table: str) -> str:
    """Rows (unique_id, bg) of the blocking keys of the core names of ``table``.

    The core's character bigrams; its pairs of characters one apart (marked ``_``), which
    survive a change of the character between; its first character with its last two (marked
    ``^``), which survives a change inside a short trade name before a common industry
    (兴晟投资咨询 / 兴盛投资咨询 share no usable bigram). A name repeating a key has it twice
    (rare; a DISTINCT over a million names' keys would double the cost of blocking).
    """
    return f"""
        SELECT unique_id, substr(core_name, i, 2) AS bg
        FROM {table}, LATERAL (SELECT unnest(range(1, length(core_name))) AS i)
        UNION ALL
        SELECT unique_id, '_' || substr(core_name, i, 1) || substr(core_name, i + 2, 1)
        FROM {table}, LATERAL (SELECT unnest(range(1, length(core_name) - 1)) AS i)
        UNION ALL
        SELECT unique_id, '^' || left(core_name, 1) || right(core_name, 2)
        FROM {table} WHERE length(core_name) >= 4"""


def _block(con: duckdb.DuckDBPyConnection, cfg: NameLinkage, n_registry: int) -> int:
    """The candidate pairs (module docstring, Blocking) as Splink's blocked pairs; how many."""
    limit = max(cfg.min_bigram_limit, int(cfg.max_bigram_share * n_registry))
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_RECORD_KEYS} AS
        SELECT DISTINCT unique_id, bg FROM ({_blocking_keys_sql(_RECORDS)})""",
        "record blocking keys",
    )
    # How many registry names have each key some record has; the names of the usable ones.
    # Two passes over the registry's keys cost less than keeping them all.
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_KEY_COUNTS} AS
        SELECT bg, count(*) AS n FROM ({_blocking_keys_sql(_REGISTRY_ALL)})
        WHERE bg IN (SELECT bg FROM {_RECORD_KEYS})
        GROUP BY bg""",
        "key counts",
    )
    usable = f"SELECT bg FROM {_KEY_COUNTS} WHERE n <= {limit}"
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_POSTINGS} AS
        SELECT unique_id AS rid, bg FROM ({_blocking_keys_sql(_REGISTRY_ALL)})
        WHERE bg IN ({usable})""",
        "postings",
    )
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_CANDIDATES} AS
        WITH rk AS (
            SELECT unique_id AS rec, bg FROM {_RECORD_KEYS} WHERE bg IN ({usable})
        ), n_usable AS (
            SELECT rec, count(*) AS n FROM rk GROUP BY rec
        ), sharing AS (
            SELECT rk.rec, p.rid, count(*) AS n_shared
            FROM rk JOIN {_POSTINGS} AS p USING (bg)
            GROUP BY rk.rec, p.rid
        ), ids AS (
            SELECT rec, rid, max(n_shared) AS n_shared
            FROM (
                SELECT s.rec, s.rid, s.n_shared
                FROM sharing AS s JOIN n_usable AS u USING (rec)
                WHERE s.n_shared >= least({cfg.min_shared_bigrams}, u.n)
                UNION ALL
                SELECT r.unique_id, g.unique_id, 0
                FROM {_RECORDS} AS r JOIN {_REGISTRY_ALL} AS g ON g.core_name = r.core_name
            )
            GROUP BY rec, rid
        ), ranked AS (  -- the order as small values: the window then sorts no strings
            SELECT ids.rec, ids.rid, ids.n_shared,
                   g.full_name = r.full_name AS same_full, g.core_name = r.core_name AS same_core,
                   coalesce(g.prefix = r.prefix, false) AS same_prefix,
                   coalesce(g.division = r.division, false) AS same_division,
                   abs(length(g.core_name) - length(r.core_name)) AS length_gap
            FROM ids
            JOIN {_RECORDS} AS r ON r.unique_id = ids.rec
            JOIN {_REGISTRY_ALL} AS g ON g.unique_id = ids.rid
        )
        SELECT CAST(row_number() OVER (ORDER BY rec, rid) AS BIGINT) AS pair, rec, rid
        FROM (
            SELECT rec, rid FROM ranked
            QUALIFY row_number() OVER (
                PARTITION BY rec
                ORDER BY same_full DESC, same_core DESC, n_shared DESC, same_prefix DESC,
                         same_division DESC, length_gap, rid
            ) <= {cfg.max_candidates}
        )""",
        "candidates",
    )
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_REGISTRY} AS
        WITH alphabets AS (
            SELECT unique_id AS rec, {alphabet_sql("core_name")} AS alphabet FROM {_RECORDS}
        )
        SELECT c.pair AS unique_id, g.full_name, g.prefix, g.core_name,
               {core_code_sql("g.core_name", "a.alphabet")} AS core_code,
               g.division, g.uscc, g.name, g.former
        FROM {_CANDIDATES} AS c
        JOIN {_REGISTRY_ALL} AS g ON g.unique_id = c.rid
        JOIN alphabets AS a USING (rec)""",
        "candidate registry names",
    )
    sep = _SPLINK_ID_SEPARATOR
    _run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE {_PAIRS} AS
        SELECT '0' AS match_key,
               {_literal(_RECORDS_SOURCE + sep)} || rec AS join_key_l,
               {_literal(_REGISTRY_SOURCE + sep)} || pair AS join_key_r
        FROM {_CANDIDATES}""",
        "blocked pairs",
    )
    (n_pairs,) = _one_row(con, f"SELECT count(*) FROM {_PAIRS}")
    logger.debug("link_names: %d candidate pairs", n_pairs)
    return n_pairs


def _comparisons() -> list[ComparisonCreator]:
    """The Splink comparisons of the module docstring, with their m and u."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    name = cl.CustomComparison(
        [
            cll.NullLevel("core_name"),
            cll.ExactMatchLevel("full_name").configure(m_probability=0.60, u_probability=1e-10),
            cll.ExactMatchLevel("core_name").configure(m_probability=0.25, u_probability=2e-9),
            # On the codes: Jaro-Winkler over characters (`core_code_sql`).
            cll.JaroWinklerLevel("core_code", 0.95).configure(
                m_probability=0.07, u_probability=4e-9
            ),
            cll.JaroWinklerLevel("core_code", 0.88).configure(
                m_probability=0.05, u_probability=1.2e-8
            ),
            cll.JaroWinklerLevel("core_code", 0.80).configure(
                m_probability=0.02, u_probability=8e-8
            ),
            cll.ElseLevel().configure(m_probability=0.01, u_probability=0.99999),
        ],
        output_column_name="name",
    )
    prefix = cl.CustomComparison(
        [
            cll.NullLevel("prefix"),
            cll.ExactMatchLevel("prefix").configure(m_probability=0.65, u_probability=0.25),
            cll.CustomLevel(
                "starts_with(prefix_l, prefix_r) OR starts_with(prefix_r, prefix_l)",
                "one prefix extends the other",
            ).configure(m_probability=0.30, u_probability=0.15),
            cll.ElseLevel().configure(m_probability=0.05, u_probability=0.60),
        ],
        output_column_name="prefix",
    )
    division = cl.CustomComparison(
        [
            cll.NullLevel("division"),
            cll.ExactMatchLevel("division").configure(m_probability=0.85, u_probability=0.05),
            cll.CustomLevel(
                "substr(division_l, 1, 4) = substr(division_r, 1, 4)", "same prefecture"
            ).configure(m_probability=0.10, u_probability=0.20),
            cll.ElseLevel().configure(m_probability=0.05, u_probability=0.75),
        ],
        output_column_name="division",
    )
    former = cl.CustomComparison(
        [
            cll.NullLevel("former"),
            cll.CustomLevel("former_l OR former_r", "a former name").configure(
                m_probability=0.15, u_probability=0.25
            ),
            cll.ElseLevel().configure(m_probability=0.85, u_probability=0.75),
        ],
        output_column_name="former",
    )
    return [name, prefix, division, former]


def _score_with_splink(con: duckdb.DuckDBPyConnection, prior: float) -> None:
    """Splink's predictions for the blocked pairs, as (pair, match_weight, match_probability)."""
    from splink import DuckDBAPI, Linker, SettingsCreator

    started = time.perf_counter()
    db_api = DuckDBAPI(con)
    try:
        left = db_api.register(_RECORDS, dataset_display_name=_RECORDS_SOURCE)
        right = db_api.register(_REGISTRY, dataset_display_name=_REGISTRY_SOURCE)
        settings = SettingsCreator(
            link_type="link_only",
            comparisons=list(_comparisons()),
            probability_two_random_records_match=prior,
            unique_id_column_name="unique_id",
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )
        linker = Linker([left, right], settings, log_level=None)
        blocked = db_api.register(_PAIRS, table_name=f"{_PREFIX}blocked_pairs_input")
        linker.table_management.register_blocked_pairs_for_predict(blocked)
        predictions = linker.inference.predict(warning_mode="never")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_SCORED} AS
            SELECT unique_id_r AS pair, match_weight, match_probability
            FROM {predictions.physical_name}
            WHERE source_dataset_l = {_literal(_RECORDS_SOURCE)}"""
        )
    finally:
        db_api.delete_tables_created_by_splink_from_db()  # type: ignore[no-untyped-call]
    logger.debug("link_names, Splink: %.2f s", time.perf_counter() - started)


def _decide(con: duckdb.DuckDBPyConnection, cfg: NameLinkage) -> None:
    """`NAME_LINKS`: best name per record and USCC, the best and second USCC, the decision."""
    match, review = float(cfg.match_threshold), float(cfg.review_threshold)
    margin = float(cfg.margin)
    con.execute(
        f"""CREATE OR REPLACE TABLE {NAME_LINKS} AS
        WITH per_uscc AS (
            SELECT c.rec, g.uscc, g.name, s.match_weight, s.match_probability
            FROM {_SCORED} AS s
            JOIN {_CANDIDATES} AS c USING (pair)
            JOIN {_REGISTRY} AS g ON g.unique_id = s.pair
            QUALIFY row_number() OVER (
                PARTITION BY c.rec, g.uscc
                ORDER BY s.match_weight DESC, g.former, g.name, g.division
            ) = 1
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY rec ORDER BY match_weight DESC, uscc) AS k
            FROM per_uscc
        )
        SELECT CAST(b.rec AS BIGINT) AS _row,
               CAST(b.uscc AS VARCHAR) AS uscc,
               CAST(b.match_probability AS DOUBLE) AS probability,
               CAST(b.name AS VARCHAR) AS matched_name,
               CAST(s.uscc AS VARCHAR) AS second_uscc,
               CAST(s.match_probability AS DOUBLE) AS second_probability,
               CAST(CASE
                   WHEN b.match_probability >= {match!r}
                        AND (s.uscc IS NULL OR s.match_probability < {review!r}
                             OR b.match_weight - s.match_weight >= {margin!r})
                   THEN 'match' ELSE 'review' END AS VARCHAR) AS decision
        FROM ranked AS b LEFT JOIN ranked AS s ON s.rec = b.rec AND s.k = 2
        WHERE b.k = 1 AND b.match_probability >= {review!r}
        ORDER BY b.rec"""
    )


def _demo_data(
    con: duckdb.DuckDBPyConnection, n_registry: int, n_records: int, seed: int = 7
) -> None:
    """Synthetic ``reg`` (registry), ``records`` and ``truth`` (with each record's USCC, or NULL
    when it is not in the registry, and how its name was changed) on ``con``; see `_demo_scale`.
    """
    chars = (
        "华兴鑫达隆泰盛福瑞祥恒通宏远金源丰利永安康顺昌明光辉新天佳美嘉和合信诚德益茂汇"
        "晟博创智联众力海云山川江湖星月阳春秋东南西北中国民建大宝龙凤长平宇航科腾飞骏"
        "正元伟业豪俊峰林森淼鹏程锦绣雅静怡然乐家园田禾晶玉铭洋洲岳峻弘毅志诺优品尚"
        "致卓越立方圆景润泽涛澜旭日朗清泉沃土宸煜琪璐瑶珍珠翠柏桦楠桂梅兰竹菊荷莲"
    )
    industries = [
        "贸易", "科技", "商贸", "建筑工程", "餐饮管理", "物业管理", "信息技术", "电子",
        "机械设备", "服装", "食品", "文化传播", "广告", "投资咨询", "房地产开发", "物流",
        "汽车服务", "医疗器械", "环保科技", "装饰工程", "网络科技", "教育咨询", "健康管理",
        "农业发展", "化工", "五金", "家具", "印刷", "酒店管理", "旅游",
    ]  # fmt: skip
    prefixes = [
        "广州市天河区", "广州市越秀区", "广州市海珠区", "广州市番禺区", "深圳市南山区",
        "深圳市福田区", "佛山市南海区", "东莞市", "广东省", "广州市", "深圳市", "珠海市香洲区",
        "惠州市惠城区", "中山市", "汕头市龙湖区", "江门市蓬江区",
    ]  # fmt: skip
    divisions = [
        "440106", "440104", "440105", "440113", "440305", "440304", "440605", "441900",
        None, "440100", "440300", "440402", "441302", "442000", "440507", "440703",
    ]  # fmt: skip
    forms = ["有限公司", "有限责任公司", "股份有限公司", "经营部", "店"]

    def arr(items: list[str] | list[str | None]) -> str:
        return "[" + ", ".join("NULL" if i is None else _literal(i) for i in items) + "]"

    def draw(items: list[str], skew: float = 1.0) -> str:
        index = f"1 + CAST(floor(pow(random(), {skew!r}) * {len(items)}) AS INT)"
        return f"{arr(items)}[{index}]"

    pick = (
        f"substr({_literal(chars)}, 1 + CAST(floor(pow(random(), 1.6) * {len(chars)}) AS INT), 1)"
    )
    con.execute(f"SELECT setseed({1 / (seed + 1)!r})")
    con.execute(
        f"""CREATE TABLE base AS
        SELECT i, 'U' || lpad(CAST(i - CAST(i % 10 = 9 AS INT) AS VARCHAR), 17, '0') AS uscc,
               i % 10 = 9 AS former, p,
               CASE WHEN random() < 0.1 THEN '' ELSE {arr(prefixes)}[p] END AS prefix,
               {pick} || {pick} || CASE WHEN random() < 0.7 THEN {pick} ELSE '' END
                   || CASE WHEN random() < 0.2 THEN {pick} ELSE '' END AS trade,
               {draw(industries)} AS ind,
               CASE WHEN random() < 0.1 THEN '(' || {draw(["广州", "分店", "中国", "集团"])} || ')'
                    ELSE '' END AS place,
               {draw(forms, 2.0)} AS form
        FROM (SELECT i, CAST(floor(random() * {len(prefixes)}) AS INT) + 1 AS p
              FROM range({n_registry}) t(i))"""
    )
    con.execute(
        f"""CREATE VIEW reg AS
        SELECT uscc, prefix || trade || ind || place || form AS name,
               {arr(divisions)}[p] AS division, former
        FROM base"""
    )
    con.execute(
        f"""CREATE TABLE truth AS
        WITH s AS (
            SELECT row_number() OVER (ORDER BY i) AS _row, *, random() AS u,
                   CAST(floor(random() * length(trade)) AS INT) AS cut
            FROM (SELECT * FROM base USING SAMPLE {n_records} ROWS (reservoir, {seed}))
        )
        SELECT _row,
               CASE WHEN u >= 1 / 6 THEN uscc END AS uscc,
               CASE
                   WHEN u < 1 / 6 THEN '广州市' || {pick} || {pick} || {pick} || '实业有限公司'
                   WHEN u < 2 / 6 THEN prefix || ' ' || trade || ind
                                       || replace(replace(place, '(', '（'), ')', '）') || form
                   WHEN u < 3 / 6 THEN trade || ind || place || form
                   WHEN u < 4 / 6 THEN prefix || trade || ind || place
                                       || CASE form WHEN '有限公司' THEN '有限责任公司'
                                                    ELSE '有限公司' END
                   ELSE prefix || substr(trade, 1, cut) || {pick} || substr(trade, cut + 2)
                        || ind || place || form
               END AS name,
               CASE WHEN random() < 0.5 THEN {arr(divisions)}[p] END AS division,
               CASE
                   WHEN u < 1 / 6 THEN 'unrelated' WHEN u < 2 / 6 THEN 'brackets'
                   WHEN u < 3 / 6 THEN 'no prefix' WHEN u < 4 / 6 THEN 'legal form'
                   ELSE 'typo'
               END AS variant
        FROM s"""
    )
    con.execute("CREATE VIEW records AS SELECT _row, name, division FROM truth")


def _demo_scale(
    n_registry: int = 1_000_000,
    n_records: int = 5_000,
    seed: int = 7,
    cfg: NameLinkage | None = None,
) -> dict[str, float]:
    """Time `link_names` on a synthetic registry and perturbed records; not a test.

    Registry: ``n_registry`` names (every tenth a former name of the previous row's USCC), built
    as [province][city][district] + a trade name of 2-4 characters (common characters more
    frequent) + an industry + sometimes a bracketed place + a legal form. Records: registry
    names with full-width brackets and a space, the prefix dropped, another legal form, or one
    character of the trade name changed; a sixth are names not in the registry; half carry the
    division. Returns the seconds `link_names` took and, per kind of record, the shares matched
    to the right and to a wrong USCC, sent to review, and sent to review with the right USCC
    first. (DuckDB's random() on several threads: the data differ a little from run to run.)
    The synthetic trade names come from some 300 characters, so they collide far more often
    than real ones: the review and wrong-match shares are pessimistic, and so are the sizes of
    the blocking joins.
    """
    cfg = cfg or NameLinkage(match_threshold=0.95, review_threshold=0.5)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    _demo_data(con, n_registry, n_records, seed)
    started = time.perf_counter()
    link_names(con, "records", "reg", cfg)
    seconds = time.perf_counter() - started
    result: dict[str, float] = {"seconds": round(seconds, 1)}
    rows = con.execute(
        f"""SELECT t.variant, count(*),
                   count(*) FILTER (l.decision = 'match' AND l.uscc = t.uscc),
                   count(*) FILTER (l.decision = 'match' AND l.uscc IS DISTINCT FROM t.uscc),
                   count(*) FILTER (l.decision = 'review'),
                   count(*) FILTER (l.decision = 'review' AND l.uscc = t.uscc)
            FROM truth AS t LEFT JOIN {NAME_LINKS} AS l USING (_row)
            GROUP BY t.variant ORDER BY t.variant"""
    ).fetchall()
    con.close()
    for variant, n, right, wrong, review, review_right in rows:
        result[f"{variant}: match right"] = round(right / n, 3)
        result[f"{variant}: match wrong"] = round(wrong / n, 3)
        result[f"{variant}: review"] = round(review / n, 3)
        result[f"{variant}: review, right uscc first"] = round(review_right / n, 3)
    return result


if __name__ == "__main__":
    for key, value in _demo_scale().items():
        print(f"{key}: {value}")
