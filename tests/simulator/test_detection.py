"""Issue 19: inspectors miss problems, and what they find follows from its cause (unit level,
fast); the hard difficulty loads and is markedly weaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.config import load_config
from simulator.calendar import Calendar
from simulator.config import SimulatorConfig
from simulator.engine import _Chunk, chunk_rng, simulate_chunk
from simulator.legacy import CATEGORIES
from simulator.population import build_population
from simulator.summary import auc

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chunk(sim_config: SimulatorConfig) -> _Chunk:
    cfg = sim_config.model_copy(update={"warm_up_months": 0, "burn_in_months": 0})
    cal = Calendar.ending(cfg.end_month, 2, 0)
    rng = chunk_rng(3, 0)
    c = _Chunk(cfg, cal, build_population(cfg, cal, 0, 4000, rng), rng, 3)
    c.initial_state()
    return c


def _share(c: _Chunk, firms: np.ndarray, category: str) -> float:
    w = c._category_weights(1, firms)
    return float((w[:, CATEGORIES.index(category)] / w.sum(axis=1)).mean())


def test_a_failed_sampling_points_to_its_product(chunk: _Chunk) -> None:
    food = np.flatnonzero(chunk.tag_masks["food"] & ~chunk.dormant)
    assert len(food) > 50
    chunk.last_fail[food] = -99
    before = _share(chunk, food, "food_safety")
    chunk.last_fail[food] = 0
    after = _share(chunk, food, "food_safety")
    chunk.last_fail[food] = -99
    assert after > before + 0.3, (before, after)


def test_a_lapsed_licence_and_dormancy(chunk: _Chunk) -> None:
    firms = np.flatnonzero(~chunk.dormant & ~chunk.licence_lapsed)[:200]
    before = _share(chunk, firms, "licence")
    chunk.licence_lapsed[firms] = True
    after = _share(chunk, firms, "licence")
    chunk.licence_lapsed[firms] = False
    assert after > before + 0.3
    chunk.dormant[firms] = True
    assert _share(chunk, firms, "address_unreachable") == 1.0
    chunk.dormant[firms] = False


def test_detection_below_one_by_item_and_inspector(chunk: _Chunk) -> None:
    rates = chunk.cfg.detection.item_rates
    firms = np.arange(100)
    d = chunk.expected_detection(1, firms)
    assert (d > min(rates.values()) - 1e-9).all() and (d < max(rates.values()) + 1e-9).all()
    skilled = chunk._detection(firms, np.zeros(100, dtype=np.int64), np.full(100, 1.0))
    average = chunk._detection(firms, np.zeros(100, dtype=np.int64), np.zeros(100))
    assert (skilled > average).all() and (average < 1).all()
    # the inspector pool is drawn from the seed alone: the same in every chunk
    assert chunk.inspector_skill.shape[1] == chunk.cfg.detection.inspectors_per_division


@pytest.mark.slow  # two 20k provinces of 132 months
def test_hard_difficulty_is_markedly_weaker(sim_config: SimulatorConfig) -> None:
    hard = load_config(ROOT / "configs" / "simulator_hard.yaml", SimulatorConfig)
    assert hard.risk == sim_config.risk and hard.events == sim_config.events
    assert hard.signal.observable_noise_sd > sim_config.signal.observable_noise_sd

    def legacy_auc(cfg: SimulatorConfig) -> float:
        """How well the legacy classes (built from the records) rank the outcomes."""
        stats = simulate_chunk(cfg, 36, 0, 20_000, 7).stats
        cls = np.repeat(np.arange(4), stats.dr_by_class)
        hits = np.concatenate(
            [
                np.arange(n) < h
                for n, h in zip(stats.dr_by_class, stats.dr_hits_by_class, strict=True)
            ]
        )
        return auc(hits, cls.astype(float))

    assert legacy_auc(hard) < legacy_auc(sim_config) - 0.03
