"""The house's layout holds: the package root is the factory and packages only, and every import runs down.

The layers, lowest first (ARCHITECTURE.md says what each owns). A module may import from its own package and
from any package below it; an import of a package above it, even inside a function, fails the test with its
file and line, so a newcomer's shortcut is caught before it becomes a tangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
LAYERS = (
    "core",
    "models",
    "operations",
    "delivery",
    "accounts",
    "content",
    "editions",
    "subscribers",
    "bounces",
    "api",
    "web",
    "console",
    "cli",
)
FACTORY = "<factory>"


def _module_parts(path: Path) -> tuple[list[str], bool]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def _imported_modules(node: ast.AST, parts: list[str], is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = parts if is_package else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target == "newsletter":  # `from newsletter import models`: each name is a package of its own
        return [f"newsletter.{alias.name}" for alias in node.names]
    return [target]


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else FACTORY


def _rank(layer: str) -> int:
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def upward_imports() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts, is_package = _module_parts(path)
        here = _layer(".".join(parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported_modules(node, parts, is_package):
                there = _layer(target)
                if target.startswith("newsletter") and there != here and _rank(there) > _rank(here):
                    found.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} ({here}) imports {target} ({there})"
                    )
    return found


def test_every_import_runs_down_the_layers():
    assert upward_imports() == []


def test_the_root_holds_the_factory_and_packages_only():
    loose = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py" and p.name != "__init__.py")
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert loose == []
    assert packages == sorted(LAYERS)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The test above would pass vacuously if the walk saw nothing: an upward import planted in a copy fails it."""
    root = tmp_path / "newsletter"
    (root / "core").mkdir(parents=True)
    (root / "editions").mkdir()
    (root / "__init__.py").write_text("")
    (root / "editions" / "__init__.py").write_text("")
    (root / "core" / "__init__.py").write_text("def f():\n    from newsletter.editions import plan\n")
    monkeypatch.setitem(globals(), "PACKAGE", root)
    assert upward_imports() == ["newsletter/core/__init__.py:2 (core) imports newsletter.editions (editions)"]
