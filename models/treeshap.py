"""Exact path-dependent TreeSHAP for a LightGBM model, fast enough for a whole province.

LightGBM's own ``pred_contrib`` walks every path of every tree for every row (cost per row
trees x leaves x depth^2): about 1,950 rows/s on 2 cores for the tuned 300-tree model, an
hour for 7.5M enterprises; this engine gives the same values ~4.7x faster
(``benchmarks/bench_explain.py``). The values it computes can be written per leaf instead
(Lundberg et al. 2020, eq. for the path-dependent estimate; "FastTreeSHAP v2", Yang 2021):

    f_x(S) = sum over leaves l of  v_l * prod over the distinct features j on l's path of
             (o_j(x) if j in S else z_j)

where ``o_j(x)`` is 1 when x satisfies every condition on j along the path (else 0) and
``z_j`` is the product of the cover ratios (data counts) of those conditions. The Shapley
value of feature i for one leaf depends on x only through the bit pattern o(x) over at most
``depth`` features, so a table of 2^m x m values per leaf, built once per model, gives the
exact contributions of a row from its decisions at each node: trees x leaves x depth
operations per row instead of trees x leaves x depth^2, with no path bookkeeping.

The tables need a depth budget: a leaf with m distinct features costs 2^m x m entries, so
models whose paths carry more than `MAX_PATH_FEATURES` distinct features, or whose tables
exceed `MAX_TABLE_BYTES`, fall back to LightGBM (`supported` says which). The tuning space keeps `max_depth` within it
(``configs/model.yaml``), and the explanation benchmark shows that the budget costs no
holdout AUC. Values agree with LightGBM's ``pred_contrib`` to ~1e-13 (only the order of the
floating-point sums differs); tests check <= 1e-9 and identical top risk points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numba
import numpy as np
import numpy.typing as npt

from models.config import EXPLAIN_MAX_DEPTH

F = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: 2^10 x 10 table entries per leaf at most; the model config keeps max_depth within it
MAX_PATH_FEATURES = EXPLAIN_MAX_DEPTH
MAX_TABLE_BYTES = 512 << 20  # a model whose tables need more is explained by LightGBM
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float)
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_BLOCK = 256  # rows per block of the kernel


@dataclass(frozen=True)
class Tables:
    """A LightGBM model flattened for the kernel: nodes, leaf paths and per-leaf tables."""

    n_features: int
    node_start: Ints  # tree t's internal nodes are node_start[t]:node_start[t+1]
    node_feature: Ints
    node_threshold: F
    node_default_left: npt.NDArray[np.uint8]
    node_missing: npt.NDArray[np.uint8]  # 0 None, 1 Zero, 2 NaN
    node_cat: Ints  # row of cat_sets, -1 for a numerical split
    cat_sets: npt.NDArray[np.uint8]  # [categorical node, code] -> 1 when the code goes left
    leaf_start: Ints  # tree t's leaves are leaf_start[t]:leaf_start[t+1]
    path_start: Ints  # leaf l's conditions are path_start[l]:path_start[l+1]
    path_node: Ints  # node index within its tree
    path_dir: npt.NDArray[np.uint8]  # 0 left, 1 right
    path_slot: Ints  # position of the node's feature among the leaf's distinct features
    leaf_m: Ints
    leaf_feature: Ints  # [leaf, slot] -> feature index
    table_start: Ints
    table: F  # per leaf: 2^m patterns x m slots
    expected_value: float
    max_nodes: int


def supported(booster: lgb.Booster) -> bool:
    """Whether every leaf's path has at most `MAX_PATH_FEATURES` distinct features and the
    tables fit in `MAX_TABLE_BYTES`."""
    sizes = _path_sizes(booster.dump_model())
    return all(m <= MAX_PATH_FEATURES for m in sizes) and table_bytes(sizes) <= MAX_TABLE_BYTES


def table_bytes(path_sizes: list[int]) -> int:
    """Memory of the tables for leaves with these numbers of distinct path features."""
    return sum((1 << m) * m * 8 for m in path_sizes)


def _path_sizes(dump: dict[str, Any]) -> list[int]:
    sizes: list[int] = []

    def walk(node: dict[str, Any], feats: frozenset[int]) -> None:
        if "split_index" not in node:
            sizes.append(len(feats))
            return
        f = feats | {int(node["split_feature"])}
        walk(node["left_child"], f)
        walk(node["right_child"], f)

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"], frozenset())
    return sizes


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


def _leaves_and_paths(
    root: dict[str, Any], nodes: dict[int, dict[str, Any]]
) -> list[tuple[dict[str, Any], list[tuple[int, int, int, float]]]]:
    """Every leaf with its path: (split index, direction 0 left / 1 right, feature, cover
    ratio child/node) from the root; fills ``nodes`` with the internal nodes. LightGBM's
    TreeSHAP covers are data counts (``internal_count`` / ``leaf_count``)."""
    out = []
    stack: list[tuple[dict[str, Any], list[tuple[int, int, int, float]]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if "split_index" not in node:
            out.append((node, path))
            continue
        split = int(node["split_index"])
        nodes[split] = node
        f = int(node["split_feature"])
        w = _count(node)
        for d, child in ((1, node["right_child"]), (0, node["left_child"])):
            stack.append((child, [*path, (split, d, f, _count(child) / w)]))
    return out


def build(booster: lgb.Booster) -> Tables:
    """Flatten the model and compute every leaf's table (once per model; about a second for
    300 trees of depth 6)."""
    dump = booster.dump_model()
    n_features = int(dump["max_feature_idx"]) + 1
    node_start, leaf_start, path_start = [0], [0], [0]
    nf: list[int] = []
    nt: list[float] = []
    ndl: list[int] = []
    nm: list[int] = []
    nc: list[int] = []
    cats: list[list[int]] = []
    pn: list[int] = []
    pd_: list[int] = []
    ps: list[int] = []
    leaf_m: list[int] = []
    leaf_feats: list[list[int]] = []
    leaf_z: list[list[float]] = []
    leaf_v: list[float] = []
    expected = 0.0
    max_nodes = 1
    for tree in dump["tree_info"]:
        root = tree["tree_structure"]
        if "split_index" not in root:  # a single leaf: a constant, no feature contributes
            expected += float(root["leaf_value"])
            node_start.append(len(nf))
            leaf_start.append(len(leaf_m))
            continue
        total = float(root["internal_count"])
        nodes: dict[int, dict[str, Any]] = {}  # internal nodes, numbered by split_index
        for node, path in _leaves_and_paths(root, nodes):
            feats: list[int] = []
            z: list[float] = []
            for split, d, f, ratio in path:
                if f not in feats:
                    feats.append(f)
                    z.append(1.0)
                slot = feats.index(f)
                z[slot] *= ratio
                pn.append(split)
                pd_.append(d)
                ps.append(slot)
            path_start.append(len(pn))
            leaf_m.append(len(feats))
            leaf_feats.append(feats)
            leaf_z.append(z)
            leaf_v.append(float(node["leaf_value"]))
            expected += float(node["leaf_count"]) / total * float(node["leaf_value"])
        for i in range(len(nodes)):
            node = nodes[i]
            nf.append(int(node["split_feature"]))
            ndl.append(1 if node["default_left"] else 0)
            nm.append(_MISSING[node["missing_type"]])
            if node["decision_type"] == "==":
                nc.append(len(cats))
                cats.append([int(c) for c in str(node["threshold"]).split("||")])
                nt.append(0.0)
            else:
                nc.append(-1)
                nt.append(float(node["threshold"]))
        max_nodes = max(max_nodes, len(nodes))
        node_start.append(len(nf))
        leaf_start.append(len(leaf_m))
    if leaf_m and max(leaf_m) > MAX_PATH_FEATURES:
        raise ValueError(
            f"model has a path with {max(leaf_m)} distinct features, more than the explanation "
            f"budget of {MAX_PATH_FEATURES}: lower max_depth, or use LightGBM's pred_contrib"
        )
    width = max((max(c) for c in cats), default=-1) + 1
    cat_sets = np.zeros((len(cats), max(width, 1)), dtype=np.uint8)
    for r, c in enumerate(cats):
        cat_sets[r, c] = 1
    m_arr = np.asarray(leaf_m, dtype=np.int64)
    mmax = int(m_arr.max()) if len(m_arr) else 0
    lf = np.zeros((len(leaf_m), max(mmax, 1)), dtype=np.int64)
    lz = np.ones((len(leaf_m), max(mmax, 1)), dtype=np.float64)
    for i, (fs, zs) in enumerate(zip(leaf_feats, leaf_z, strict=True)):
        lf[i, : len(fs)] = fs
        lz[i, : len(zs)] = zs
    sizes = (1 << m_arr) * m_arr
    table_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    table = np.zeros(int(table_start[-1]), dtype=np.float64)
    _fill_tables(m_arr, lz, np.asarray(leaf_v, dtype=np.float64), table_start, table)
    return Tables(
        n_features,
        np.asarray(node_start, dtype=np.int64),
        np.asarray(nf, dtype=np.int64),
        np.asarray(nt, dtype=np.float64),
        np.asarray(ndl, dtype=np.uint8),
        np.asarray(nm, dtype=np.uint8),
        np.asarray(nc, dtype=np.int64),
        cat_sets,
        np.asarray(leaf_start, dtype=np.int64),
        np.asarray(path_start, dtype=np.int64),
        np.asarray(pn, dtype=np.int64),
        np.asarray(pd_, dtype=np.uint8),
        np.asarray(ps, dtype=np.int64),
        m_arr,
        lf,
        table_start,
        table,
        expected,
        max_nodes,
    )


@numba.njit(cache=True)
def _fill_tables(m: Ints, z: F, v: F, start: Ints, table: F) -> None:  # pragma: no cover (jit)
    """phi_s(o) = v * sum over S of the other slots of |S|!(m-|S|-1)!/m! *
    prod_{j in S} o_j * prod_{j not in S, j != s} z_j * (o_s - z_s), via the polynomial
    prod_j (o_j t + z_j) over the other slots (coefficient k = sum over |S| = k)."""
    fact = np.ones(MAX_PATH_FEATURES + 2)
    for k in range(1, MAX_PATH_FEATURES + 2):
        fact[k] = fact[k - 1] * k
    poly = np.zeros(MAX_PATH_FEATURES + 1)
    for leaf in range(len(m)):
        mm = m[leaf]
        for pattern in range(1 << mm):
            for s in range(mm):
                poly[:] = 0.0
                poly[0] = 1.0
                deg = 0
                for j in range(mm):
                    if j == s:
                        continue
                    o = 1.0 if (pattern >> j) & 1 else 0.0
                    for k in range(deg + 1, 0, -1):  # multiply by (z_j + o t)
                        poly[k] = poly[k] * z[leaf, j] + poly[k - 1] * o
                    poly[0] = poly[0] * z[leaf, j]
                    deg += 1
                total = 0.0
                for k in range(deg + 1):
                    total += fact[k] * fact[mm - k - 1] / fact[mm] * poly[k]
                os_ = 1.0 if (pattern >> s) & 1 else 0.0
                table[start[leaf] + pattern * mm + s] = v[leaf] * total * (os_ - z[leaf, s])


@numba.njit(parallel=True, cache=True)
def _kernel(  # pragma: no cover (jit)
    x: F,
    out: F,
    node_start: Ints,
    node_feature: Ints,
    node_threshold: F,
    node_default_left: npt.NDArray[np.uint8],
    node_missing: npt.NDArray[np.uint8],
    node_cat: Ints,
    cat_sets: npt.NDArray[np.uint8],
    leaf_start: Ints,
    path_start: Ints,
    path_node: Ints,
    path_dir: npt.NDArray[np.uint8],
    path_slot: Ints,
    leaf_m: Ints,
    leaf_feature: Ints,
    table_start: Ints,
    table: F,
    max_nodes: int,
    zero: float,
) -> None:
    """Rows in blocks, trees in the middle loop, rows innermost: one tree's tables (tens of
    kB) stay in cache while a block of rows uses them, instead of every row streaming the
    whole model's tables (megabytes) through the cache."""
    n = x.shape[0]
    n_trees = len(node_start) - 1
    B = _BLOCK
    blocks = (n + B - 1) // B
    for block in numba.prange(blocks):
        lo = block * B
        hi = min(n, lo + B)
        dirs = np.empty((B, max_nodes), dtype=np.uint8)
        for t in range(n_trees):
            a = node_start[t]
            for r in range(lo, hi):
                rr = r - lo
                for k in range(a, node_start[t + 1]):  # LightGBM's decision at every node
                    v = x[r, node_feature[k]]
                    if -zero <= v <= zero:  # LightGBM reads |v| <= kZeroThreshold as 0
                        v = 0.0
                    c = node_cat[k]
                    if c >= 0:  # LightGBM: NaN or a negative int(v) goes right
                        if np.isnan(v):
                            d = 1
                        else:
                            iv = int(v)  # truncates toward zero, as static_cast<int>
                            if iv < 0:
                                d = 1
                            else:
                                d = 0 if iv < cat_sets.shape[1] and cat_sets[c, iv] == 1 else 1
                    else:
                        miss = node_missing[k]
                        if np.isnan(v) and miss != 2:
                            v = 0.0
                        if (miss == 1 and -zero <= v <= zero) or (miss == 2 and np.isnan(v)):
                            d = 0 if node_default_left[k] == 1 else 1
                        else:
                            d = 0 if v <= node_threshold[k] else 1
                    dirs[rr, k - a] = d
            for leaf in range(leaf_start[t], leaf_start[t + 1]):
                mm = leaf_m[leaf]
                p0 = path_start[leaf]
                p1 = path_start[leaf + 1]
                ts = table_start[leaf]
                for r in range(lo, hi):
                    rr = r - lo
                    pattern = (1 << mm) - 1
                    for p in range(p0, p1):
                        if dirs[rr, path_node[p]] != path_dir[p]:
                            pattern &= ~(1 << path_slot[p])
                    base = ts + pattern * mm
                    for s in range(mm):
                        out[r, leaf_feature[leaf, s]] += table[base + s]


def contributions(tables: Tables, x: F) -> F:
    """TreeSHAP contributions, shape (rows, features + 1), the last column the expected
    value: the same values as ``booster.predict(x, pred_contrib=True)``."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != tables.n_features:
        raise ValueError(f"expected rows of {tables.n_features} features, got shape {x.shape}")
    out = np.zeros((len(x), tables.n_features + 1), dtype=np.float64)
    if len(x):
        t = tables
        _kernel(
            x,
            out,
            t.node_start,
            t.node_feature,
            t.node_threshold,
            t.node_default_left,
            t.node_missing,
            t.node_cat,
            t.cat_sets,
            t.leaf_start,
            t.path_start,
            t.path_node,
            t.path_dir,
            t.path_slot,
            t.leaf_m,
            t.leaf_feature,
            t.table_start,
            t.table,
            t.max_nodes,
            _ZERO,
        )
        out[:, -1] = t.expected_value
    return out
