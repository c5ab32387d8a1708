"""Imports go one way: app.core is pure, relayscope.ui never meets proxy_addons (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "app/core": ("PySide6", "mitmproxy", "proxy_addons", "relayscope.ui"),
    "app/ui": ("mitmproxy", "proxy_addons"),
    "proxy_addons": ("PySide6", "relayscope.ui"),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in {f.split(".")[0] for f in FORBIDDEN[package]}
        and any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])
    ]
    assert offences == []
