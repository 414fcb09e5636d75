"""The house rules that keep the layout one a maintainer can hold in their head.

The import contracts themselves live in ``pyproject.toml`` (``[tool.importlinter]``); this file
runs them in ``make test`` and checks what import-linter cannot: that every module of
``pipelines/`` sits in a layer on purpose, that our installed package names are not also
installed by another distribution, and that nothing changes the environment when imported.
"""

from __future__ import annotations

import ast
import importlib.metadata
import tomllib
from pathlib import Path

from importlinter import api as importlinter_api
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contract", "features", "models", "pipelines", "service", "simulator")


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    return [m.strip() for layer in layers for m in layer.replace(":", "|").split("|")]


def test_import_contracts_hold() -> None:
    """Layers, stage independence, the simulator kept out of the product, no cycles."""
    config = str(ROOT / "pyproject.toml")
    assert importlinter_api.read_configuration(config)["contracts_options"]
    assert lint_imports(config_filename=config, cache_dir=None, no_logo=True) is True


def test_every_pipelines_module_has_a_layer() -> None:
    placed = set(_layers())
    children = {
        f"pipelines.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "pipelines").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert children - placed == set(), "add the new module to a layer in pyproject.toml"


def test_installed_names_are_ours_alone() -> None:
    """Our top-level names are generic; no other installed distribution may provide them."""
    owners = importlib.metadata.packages_distributions()
    for name in PACKAGES:
        # riskclass must be found as the provider (no vacuous pass), and be the only one.
        assert set(owners.get(name, [])) == {"riskclass"}, (name, owners.get(name))


def _sets_environment(node: ast.stmt) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            target = ast.unparse(sub.func.value)
            if target == "os.environ" and sub.func.attr in {"setdefault", "update", "pop"}:
                return True
            if ast.unparse(sub.func) == "os.putenv":
                return True
        if isinstance(sub, (ast.Assign, ast.AugAssign)):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            if any(ast.unparse(t).startswith("os.environ[") for t in targets):
                return True
    return False


def test_nothing_sets_the_environment_at_import() -> None:
    """Only functions may change os.environ (pipelines.environment.no_telemetry is called)."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for stmt in tree.body:
                defines = isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                if not defines and _sets_environment(stmt):
                    found.append(f"{path.relative_to(ROOT)}:{stmt.lineno}")
    assert found == []


def test_every_module_says_what_it_owns() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.stat().st_size and ast.get_docstring(ast.parse(path.read_text("utf-8"))) is None
    ]
    assert missing == []
