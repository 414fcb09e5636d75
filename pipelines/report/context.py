"""The month context: everything the reports of one classified month share.

`ReportMonth` loads the month's classes, the
registry, the model version that classified it (`pipelines.bundle`) and the reference names,
selects the enterprises to report on, and reads, once and on demand, what reports look up:
feature rows, the tables the month's feature file lacked, the industry's typical values, the
class history and the peer groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contract.months import Month, previous_month
from features.catalog import Feature
from models import explain
from models.classes import ClassScheme, class_order
from models.config import ModelConfig
from pipelines import paths, store
from pipelines.bundle import Bundle, load_bundle
from pipelines.render.lacking import absent_tables
from pipelines.render.names import Names
from pipelines.report.config import ReportConfig, ReportError


@dataclass
class ReportMonth:
    """Everything the reports of one classified month share."""

    month: str
    classes: pd.DataFrame  # indexed by uscc
    registry: pd.DataFrame  # indexed by uscc: name, codes, dates
    features_path: Path
    scheme: ClassScheme
    bundle: Bundle
    names: Names
    rcfg: ReportConfig
    top_k: int
    engine: str
    outputs: Path
    _peer_done: set[str] = field(default_factory=set)  # features whose typical values are known
    #: the classified enterprises with an industry division: their rows in the month's feature
    #: file and their divisions' codes (built once, so each feature's typical values cost one
    #: column read and a positional take, not a join on USCC strings)
    _peer_rows: np.ndarray[Any, Any] | None = None
    _peer_codes: np.ndarray[Any, Any] | None = None
    _peer_labels: list[str] = field(default_factory=list)
    #: a batch's own rows (`preload`): its feature rows and class history, read in one pass
    _batch_history: dict[str, dict[str, str]] = field(default_factory=dict)
    _history: dict[str, pd.Series] = field(default_factory=dict)  # month -> class, by uscc
    _peer_groups: dict[tuple[str, str], Peers] = field(default_factory=dict)
    _peer_medians: dict[tuple[str, str], float | None] = field(default_factory=dict)
    _explainer: explain.Explainer | None = None
    #: keep the month's feature table in memory (a service answering one report at a time);
    #: batches read only the rows they need
    cache_features: bool = False
    _table: pa.Table | None = None
    _row_of: dict[str, int] = field(default_factory=dict)
    _absent: dict[str, str] | None = None
    #: the month's what-ifs (`pipelines.whatif`) by uscc, only those computed exactly for the
    #: classes shown (same model version and score); empty when classify did not compute them
    whatif: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def warm(self) -> None:
        """Build what every report of the month shares (the feature table when it is cached,
        the explainer, the industry and county peer groups) now, once: a service then does
        not build them under its first requests, and holds them from its start."""
        self.feature_rows([])
        self.explainer()
        for key in ("industry_code", "division_code"):
            self.peers(key, "")

    def explainer(self) -> explain.Explainer:
        """The explainer of the model version that classified the month (built once)."""
        if self._explainer is None:
            self._explainer = self.bundle.explainer(self.engine)
        return self._explainer

    @classmethod
    def load(
        cls,
        as_of: Month | str,
        cfg: ModelConfig,
        rcfg: ReportConfig,
        scheme: ClassScheme,
        features_dir: Path,
        interim: Path,
        outputs: Path,
        root: Path = Path("."),
    ) -> ReportMonth:
        month = str(Month(as_of))
        path = paths.Outputs(Path(outputs)).classes(month)
        if not path.is_file():
            raise ReportError(
                f"report: no classes for {month} ({path}); run `riskclass classify --as-of {month}`"
            )
        classes = pq.read_table(path).to_pandas().set_index("uscc")
        if "margin" not in classes.columns:
            raise ReportError(
                f"report: {path} was written without explanations (classify --no-explain); "
                f"run `riskclass classify --as-of {month}` again"
            )
        used = set(classes["scheme"].unique())
        if used != {scheme.name}:
            raise ReportError(
                f"report: {path} was classified with scheme {', '.join(sorted(used))}, not "
                f"{scheme.name}: pass that scheme's file with --scheme"
            )
        versions = classes["model_version"].unique()
        if len(versions) != 1:
            raise ReportError(f"report: {path} mixes model versions {sorted(versions)}")
        reg = store.open_table(interim, "enterprises")
        if reg is None:
            raise ReportError(f"report: table enterprises not found in {interim}; run ingest")
        cols = [
            "uscc",
            "name",
            "entity_type",
            "industry_code",
            "division_code",
            "established_date",
            "status",
        ]
        registry = reg.pandas(cols).set_index("uscc")
        bundle = load_bundle(cfg, version=str(versions[0]))
        scheme = bundle.scheme(scheme)  # the bands the version classed with (report charts)
        return cls(
            month,
            classes,
            registry,
            paths.features_file(features_dir, month),
            scheme,
            bundle,
            Names.load(rcfg, root),
            rcfg,
            cfg.explain.top_k,
            cfg.explain.engine,
            Path(outputs),
            whatif=_whatif(paths.Outputs(Path(outputs)).whatif(month), classes),
        )

    # --- selection ---------------------------------------------------------------------------
    def select(
        self,
        usccs: Sequence[str] = (),
        klass: str | None = None,
        division: str | None = None,
        industry: str | None = None,
        sample: int | None = None,
        seed: int = 0,
        limit: int | None = None,
    ) -> list[str]:
        """Enterprises to report on: the given USCCs, or those matching class / division
        prefix / industry prefix, optionally a seeded random sample, in USCC order."""
        if usccs:
            unknown = [u for u in usccs if u not in self.classes.index]
            if unknown:
                raise ReportError(
                    f"report: {len(unknown)} enterprise(s) have no classification for "
                    f"{self.month}: {', '.join(unknown[:5])}"
                )
            chosen = pd.Index(sorted(set(usccs)))
        else:
            mask = pd.Series(True, index=self.classes.index)
            if klass is not None:
                if klass not in class_order(self.scheme) and klass not in {
                    c.code for c in self.scheme.classes
                }:
                    raise ReportError(
                        f"report: class {klass!r} is not in scheme {self.scheme.name} "
                        f"({', '.join(c.code for c in self.scheme.classes)})"
                    )
                mask &= self.classes["class_final"] == klass
            reg = self.registry.reindex(self.classes.index)
            if division:
                mask &= reg["division_code"].fillna("").str.startswith(division).to_numpy()
            if industry:
                mask &= reg["industry_code"].fillna("").str.startswith(industry).to_numpy()
            chosen = self.classes.index[mask.to_numpy()].sort_values()
            if sample is not None and sample < len(chosen):
                rng = np.random.default_rng(seed)
                chosen = chosen[np.sort(rng.choice(len(chosen), size=sample, replace=False))]
        if limit is not None:
            chosen = chosen[:limit]
        return list(chosen)

    # --- data ----------------------------------------------------------------------------------
    def absent_tables(self) -> dict[str, str]:
        """table -> reason: the contract tables the month's feature file lacked (their features
        are missing, never zero; `pipelines.render.lacking`); empty when every table was there.
        Read once, from the file's schema metadata."""
        if self._absent is None:
            if not self.features_path.is_file():
                raise ReportError(f"report: no feature file {self.features_path}")
            self._absent = absent_tables(pq.read_schema(self.features_path).metadata)
        return self._absent

    def feature_rows(self, usccs: Sequence[str]) -> pa.Table:
        if not self.features_path.is_file():
            raise ReportError(f"report: no feature file {self.features_path}")
        if self.cache_features and self._table is None:  # built whole before it is published
            table = pq.read_table(self.features_path)
            self._row_of = {u: i for i, u in enumerate(table.column("uscc").to_pylist())}
            self._table = table
        if self._table is not None and all(u in self._row_of for u in usccs):
            return self._table.take(pa.array([self._row_of[u] for u in usccs], pa.int64()))
        return self._read_rows(usccs)

    def _read_rows(self, usccs: Sequence[str]) -> pa.Table:
        """The feature rows of ``usccs`` in that order, in one pass over the file."""
        t = pq.read_table(self.features_path, filters=[("uscc", "in", list(usccs))])
        order = pc.index_in(pa.array(list(usccs)), t.column("uscc"))
        return t.take(order)

    def typical(self, f: Feature, industry2: str) -> float | None:
        """The industry's typical value of a feature among the enterprises classified this
        month: the share of 1s for a flag, else the median; None when no member has a value.
        Computed for every industry division at once, the first time a feature is asked for
        (one column read, one group-by), and kept as one number per industry: a service
        answering reports for hours holds a few numbers per feature, not the column."""
        if f.name not in self._peer_done:
            rows, codes = self._peers_in_file()
            t = pq.read_table(self.features_path, columns=[f.name])
            column = t.column(0).to_numpy(zero_copy_only=False)
            vals = pd.to_numeric(pd.Series(column[rows]), errors="coerce").to_numpy(float)
            has = ~np.isnan(vals)
            vals, group = vals[has], codes[has]
            if f.kind == "flag":
                by = pd.Series(vals == 1).groupby(group).mean()
            else:
                by = pd.Series(vals).groupby(group).median()
            for code, value in by.items():
                self._peer_medians[(f.name, self._peer_labels[int(code)])] = float(value)
            self._peer_done.add(f.name)
        return self._peer_medians.get((f.name, industry2))

    def _peers_in_file(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(rows, codes): the row in the month's feature file of each classified enterprise
        with an industry division in the registry, and the integer code of that division
        (`_peer_labels` names it). Built once."""
        if self._peer_rows is None or self._peer_codes is None:
            scored = self.classes.index[self.classes["score"].notna().to_numpy()]
            industry = self.registry["industry_code"].reindex(scored).str[:2]
            industry = industry[industry.notna().to_numpy()]  # not in the registry: out
            usccs = pq.read_table(self.features_path, columns=["uscc"]).column(0)
            at = pd.Index(usccs.to_numpy(zero_copy_only=False)).get_indexer(industry.index)
            found = at >= 0
            codes, labels = pd.factorize(industry.to_numpy()[found])
            # published labels first and rows last: a thread that sees the rows (the service
            # answers reports from a thread pool) sees the codes and labels too
            self._peer_labels = [str(c) for c in labels]
            self._peer_codes = codes
            self._peer_rows = at[found]
        return self._peer_rows, self._peer_codes

    def release(self) -> None:
        """Forget a batch's rows and history (`preload`); a month cached whole keeps its table."""
        if not self.cache_features:
            self._table, self._row_of = None, {}
        self._batch_history = {}

    def preload(self, usccs: Sequence[str]) -> None:
        """Read what a batch of reports on ``usccs`` looks up, in one pass over each file: their
        feature rows, their class history, and the industry's typical value of every feature
        their stored risk points name. Without it a batch of thousands reads the month's
        feature file and each month's classes once per chunk: at a province's size that is
        hundreds of full scans. Done before a batch forks its workers, which then share it."""
        if not usccs or (
            self._table is not None
            and all(u in self._row_of and u in self._batch_history for u in usccs)
        ):  # already read
            return
        if not self.cache_features:  # (a cached month already holds every row)
            table = self._read_rows(usccs)
            self._row_of = {u: i for i, u in enumerate(table.column("uscc").to_pylist())}
            self._table = table
        self._batch_history = self._read_history(usccs)
        stored = self.classes.loc[list(usccs)]
        named = {
            str(v)
            for k in range(1, self.top_k + 1)
            if f"risk_{k}_feature" in stored.columns
            for v in stored[f"risk_{k}_feature"].dropna().unique()
        }
        for name in sorted(named):
            f = self.bundle.features.get(name)
            if f is not None and f.kind in ("number", "flag"):
                self.typical(f, "")

    def history(self, usccs: Sequence[str]) -> dict[str, dict[str, str]]:
        """uscc -> {month: class} over the last ``history_months`` months present."""
        if self._batch_history and all(u in self._batch_history for u in usccs):
            return {u: self._batch_history[u] for u in usccs}
        return self._read_history(usccs)

    def _read_history(self, usccs: Sequence[str]) -> dict[str, dict[str, str]]:
        months = [self.month]
        while len(months) < self.rcfg.history_months:
            months.append(previous_month(months[-1]))
        out: dict[str, dict[str, str]] = {u: {} for u in usccs}
        outputs = paths.Outputs(self.outputs)
        for m in months:
            p = outputs.classes(m)
            if not p.is_file():
                continue
            if self.cache_features:  # a service: each month's classes read once, then looked up
                if m not in self._history:
                    t = pq.read_table(p, columns=["uscc", "class_final"])
                    self._history[m] = pd.Series(
                        t.column("class_final").to_pandas().astype("category").to_numpy(),
                        index=pd.Index(t.column("uscc").to_pylist(), dtype=object),
                    )
                known = self._history[m]
                for u in usccs:
                    if u in known.index:
                        c = known[u]
                        out[u][m] = None if pd.isna(c) else str(c)  # type: ignore[assignment]
                continue
            t = pq.read_table(
                p, columns=["uscc", "class_final"], filters=[("uscc", "in", list(usccs))]
            )
            for u, c in zip(
                t.column("uscc").to_pylist(), t.column("class_final").to_pylist(), strict=True
            ):
                out[u][m] = c
        return out

    def peers(self, key: str, value: str) -> Peers:
        """Enterprises of the same industry division (2 digits) or county, classified this
        month. Every group of ``key`` is built at once, the first time one is asked for (one
        pass over the month), and cached."""
        cache = self._peer_groups
        if (key, "") not in cache:
            reg = self.registry
            code = reg[key].str[:2] if key == "industry_code" else reg[key]
            scored = self.classes[self.classes["score"].notna().to_numpy()]
            group = code.reindex(scored.index)  # not in the registry: no group
            frame = pd.DataFrame(
                {
                    "group": group.to_numpy(),
                    "score": scored["score"].to_numpy(),
                    "cls": scored["class_final"].to_numpy(),
                },
                index=scored.index,
            )
            frame = frame[frame["group"].notna().to_numpy()]
            order = class_order(self.scheme)
            for g, part in frame.groupby("group", sort=False):
                counts = part["cls"].value_counts()
                shares = [(c, f"{counts.get(c, 0) / len(part):.1%}") for c in order]
                cache[(key, str(g))] = Peers(part.index, np.sort(part["score"].to_numpy()), shares)
            cache[(key, "")] = Peers(pd.Index([]), np.array([]), [(c, f"{0:.1%}") for c in order])
        return cache.get((key, value), cache[(key, "")])


@dataclass(frozen=True)
class Peers:
    """One peer group of a month."""

    index: pd.Index  # the enterprises of the group that were classified
    scores: np.ndarray[Any, Any]  # their scores, sorted
    shares: list[tuple[str, str]]  # class -> share of the group


def _whatif(path: Path, classes: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The what-ifs of ``path`` by uscc (in the file's order), keeping only rows computed
    exactly for the classes shown: same model version, the stored score as their start."""
    if not path.is_file():
        return {}
    rows = pq.read_table(path).to_pylist()
    out: dict[str, list[dict[str, Any]]] = {}
    version = str(classes["model_version"].iloc[0]) if len(classes) else None
    for r in rows:
        u = str(r["uscc"])
        if (
            r.get("exact") is not True
            or u not in classes.index
            or str(r["model_version"]) != version
            or float(classes.at[u, "score"]) != float(r["score_before"])
            or str(classes.at[u, "class_final"]) != str(r["class_before"])
        ):
            continue
        out.setdefault(u, []).append(r)
    return out
