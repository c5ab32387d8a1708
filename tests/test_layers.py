"""Imports go one way: the library is pure, the UI never meets the proxy (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "relayscope"
PROXY = ROOT / "proxy_addons" / "relayscope" / "proxy"
#: The library's packages: no Qt, no mitmproxy, neither the UI nor the proxy.
LIBRARY = (
    "calls",
    "protocols",
    "routing",
    "recording",
    "store",
    "analysis",
    "actions",
    "exchange",
    "config",
)
PURE = ("PySide6", "mitmproxy", "relayscope.proxy", "relayscope.ui")
FORBIDDEN = {
    **{f"app/relayscope/{name}": PURE for name in LIBRARY},
    "app/relayscope/ui": ("mitmproxy", "relayscope.proxy"),
    "proxy_addons/relayscope/proxy": ("PySide6", "relayscope.ui"),
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


def test_every_library_package_is_layered() -> None:
    """A new package under app/relayscope gets a rule here before it gets code."""
    packages = {p.name for p in APP.iterdir() if (p / "__init__.py").exists()}
    assert packages == {*LIBRARY, "ui", "cli"} - ({"cli"} - packages)


def test_nothing_is_named_app_or_proxy_addons() -> None:
    """One import name: `relayscope` (app/ and proxy_addons/ are folders, not packages)."""
    assert not (ROOT / "app" / "__init__.py").exists()
    assert not (ROOT / "proxy_addons" / "__init__.py").exists()
    assert not (APP / "__init__.py").exists()  # a namespace shared by the two folders
    assert not (PROXY.parent / "__init__.py").exists()


def test_pyproject_lists_every_package() -> None:
    """setuptools gets an explicit list (two roots); a package missing from it is not shipped."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {"relayscope"}
    for root in (ROOT / "app", ROOT / "proxy_addons"):
        for init in root.rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(root).parts))
    assert listed == found
