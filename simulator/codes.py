"""Identifiers the way registries issue them, vectorised: USCCs, old registration numbers,
hashed person ids.

The USCC (统一社会信用代码, GB 32100-2015) is 18 characters: the registering authority
(9 = market regulation), the entity type (1 enterprise, 2 individual business, 3 farmer
cooperative), the 6-digit division code, a 9-character organisation code (GB 11714: 8
characters and a check character) and the final check character. The result agrees with
``stdnum.cn.uscc`` (the tests check every generated code with it); it is computed with
numpy because a province has millions of codes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_USCC_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)  # GB 11714-1997
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALPHA_BYTES = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)

# Multipliers coprime with the moduli make index -> code a bijection (codes never repeat).
_DIGITS8 = 10**8
_MA6 = 31**6


def _char_value(ascii_codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """GB 11714 value of a character: digits 0-9, letters A=10 ... Z=35."""
    v = ascii_codes.astype(np.int64)
    return np.where(v <= ord("9"), v - ord("0"), v - ord("A") + 10)


def _uscc_value(ascii_codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Position of each character in the USCC alphabet."""
    lookup = np.full(128, -1, dtype=np.int64)
    lookup[_ALPHA_BYTES] = np.arange(len(USCC_ALPHABET))
    return lookup[ascii_codes]


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """ASCII digits of ``values`` as an (n, width) array, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def _to_strings(chars: npt.NDArray[np.uint8]) -> npt.NDArray[np.str_]:
    width = chars.shape[1]
    return np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(f"U{width}")


def organisation_bodies(
    index: npt.NDArray[np.int64], new_style: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint8]:
    """8-character organisation-code bodies, unique per index.

    Codes issued after the 2015 reform start with ``MA`` followed by six characters of the
    USCC alphabet; older ones are eight digits.
    """
    n = len(index)
    out = np.empty((n, 8), dtype=np.uint8)
    old = _digits((index * 48_271 + 10_000_019) % _DIGITS8, 8)
    x = (index * 69_621 + 7_777) % _MA6
    ma = np.empty((n, 8), dtype=np.uint8)
    ma[:, 0] = ord("M")
    ma[:, 1] = ord("A")
    for pos in range(7, 1, -1):
        ma[:, pos] = _ALPHA_BYTES[x % 31]
        x = x // 31
    out[:] = np.where(new_style[:, None], ma, old)
    return out


def organisation_check(body: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """GB 11714 check character of 8-character bodies."""
    c = 11 - (_char_value(body) * _ORG_WEIGHTS).sum(axis=1) % 11
    return np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), c + ord("0"))).astype(np.uint8)


def make_uscc(
    index: npt.NDArray[np.int64],
    division_code: npt.NDArray[np.int64],
    entity_digit: npt.NDArray[np.int64],
    new_style: npt.NDArray[np.bool_],
) -> npt.NDArray[np.str_]:
    """USCCs for enterprises numbered ``index`` (unique for distinct indices)."""
    n = len(index)
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, 0] = ord("9")
    chars[:, 1] = (entity_digit + ord("0")).astype(np.uint8)
    chars[:, 2:8] = _digits(division_code.astype(np.int64), 6)
    body = organisation_bodies(index.astype(np.int64), new_style)
    chars[:, 8:16] = body
    chars[:, 16] = organisation_check(body)
    total = (_uscc_value(chars[:, :17]) * _USCC_WEIGHTS).sum(axis=1)
    chars[:, 17] = _ALPHA_BYTES[(31 - total % 31) % 31]
    return _to_strings(chars)


def make_reg_no(
    index: npt.NDArray[np.int64], division_code: npt.NDArray[np.int64]
) -> npt.NDArray[np.str_]:
    """Old 15-digit registration numbers (注册号): authority code, sequence, ISO 7064 MOD 11,10."""
    n = len(index)
    chars = np.empty((n, 15), dtype=np.uint8)
    chars[:, :6] = _digits(division_code.astype(np.int64), 6)
    chars[:, 6:14] = _digits((index.astype(np.int64) * 40_503 + 1_234_567) % _DIGITS8, 8)
    p = np.full(n, 10, dtype=np.int64)
    for pos in range(14):
        s = (p + chars[:, pos].astype(np.int64) - ord("0")) % 10
        s = np.where(s == 0, 10, s)
        p = (2 * s) % 11
    chars[:, 14] = ((11 - p) % 10 + ord("0")).astype(np.uint8)
    return _to_strings(chars)


def reg_no_is_valid(number: str) -> bool:
    """ISO 7064 MOD 11,10 check of a 15-digit registration number."""
    if len(number) != 15 or not number.isdigit():
        return False
    p = 10
    for ch in number[:14]:
        s = (p + int(ch)) % 10 or 10
        p = (2 * s) % 11
    return (11 - p) % 10 == int(number[14])


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def make_person_ids(person_index: npt.NDArray[np.int64], salt: int) -> npt.NDArray[np.str_]:
    """16-hex-digit person ids, as a hash of the person's ID number would give.

    A bijective mix of the person's number (salted by the seed), so ids never collide.
    """
    h = _splitmix64(person_index.astype(np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF))
    nibbles = (h[:, None] >> (np.arange(60, -4, -4, dtype=np.uint64))) & np.uint64(0xF)
    return _to_strings(_HEX[nibbles.astype(np.int64)])
