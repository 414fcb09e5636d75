"""Reference names for codes: what a regulator reads instead of a division or industry code.

Loaded from the reference lists a configuration names (`configs/report.yaml`: ``divisions``
and ``industries``); a code without a name is shown as the code, an industry division without
a name as its GB/T 4754 section (`pipelines.render.wording.section_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd

from pipelines.render.wording import section_name

Lang = Literal["zh", "en"]


class NameFiles(Protocol):
    """Where the reference lists are (e.g. `pipelines.report.ReportConfig`)."""

    @property
    def divisions(self) -> str | None:
        """code,name_zh,name_en[,prefecture_code,prefecture_zh] (GB/T 2260)."""

    @property
    def industries(self) -> str | None:
        """code,section,name_zh,name_en for the 2-digit GB/T 4754 divisions."""


@dataclass
class Names:
    """Reference names for codes (what a regulator reads instead of a code)."""

    divisions: dict[str, tuple[str, str]] = field(default_factory=dict)
    prefectures: dict[str, tuple[str, str]] = field(default_factory=dict)
    industries: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, cfg: NameFiles, root: Path = Path(".")) -> Names:
        out = cls()
        if cfg.divisions:
            d = pd.read_csv(_resolve(root, cfg.divisions), dtype=str, keep_default_na=False)
            for r in d.itertuples(index=False):
                # outside Guangdong the list has no English names: the Chinese one stands in
                out.divisions[r.code] = (r.name_zh, r.name_en or r.name_zh)
                if "prefecture_code" in d.columns:
                    pz = getattr(r, "prefecture_zh", r.name_zh)
                    out.prefectures[str(r.prefecture_code)[:4]] = (pz, pz)
        if cfg.industries:
            i = pd.read_csv(_resolve(root, cfg.industries), dtype=str)
            out.industries = {r.code: (r.name_zh, r.name_en) for r in i.itertuples(index=False)}
        return out

    def division(self, code: str, lang: Lang) -> str:
        name = self.divisions.get(code)
        return with_code(name[0] if lang == "zh" else name[1], code, lang) if name else code

    def industry(self, code2: str, lang: Lang) -> str:
        name = self.industries.get(code2)
        label = (name[0] if lang == "zh" else name[1]) if name else section_name(code2, lang)
        return with_code(label, code2, lang) if label else code2


def _resolve(root: Path, path: str | Path) -> Path:
    """A reference list's path; ``contract/data/<file>`` is the shipped list, found in the
    installed package when the command runs outside the project folder."""
    candidate = root / path
    parts = Path(path).parts
    if candidate.exists() or parts[:2] != ("contract", "data"):
        return candidate
    return Path(str(files("contract").joinpath("data", *parts[2:])))


def with_code(name: str, code: str, lang: Lang) -> str:
    """A name with its code after it, as each language writes it."""
    return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"
