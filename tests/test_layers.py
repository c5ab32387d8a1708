"""Imports go one way: the library is pure, the UI never meets the proxy (docs/architecture.md).

The app's widgets and models are held to an allow-list: the standard library (less sqlite3),
PySide6 and Relayscope's own library. They read the database through the store only (one door:
no `sqlite3`, no `sqlite_utils`, no reaching through `store.db`) and leave HTTP to the library
(no `httpx`)."""

from __future__ import annotations

import ast
import sys
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

#: What a module under app/relayscope/ui may import, besides the standard library (`relayscope`
#: itself: the worker's command line is found from the namespace's path).
UI_ALLOWED = ("PySide6", "relayscope.ui", *(f"relayscope.{name}" for name in LIBRARY))
#: Standard modules the app's widgets leave to the store.
UI_STDLIB_FORBIDDEN = ("sqlite3",)
#: Attributes that reach past the store's methods into its connection.
UI_FORBIDDEN_ATTRIBUTES = ("db", "conn")
#: Exceptions, each with its reason. Remove a line when its reason goes.
UI_EXCEPTIONS: dict[tuple[str, str], str] = {}


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


def _ui_allows(name: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:
        return top not in UI_STDLIB_FORBIDDEN
    return name == "relayscope" or any(name == a or name.startswith(a + ".") for a in UI_ALLOWED)


def _ui_files() -> list[Path]:
    files = sorted((APP / "ui").rglob("*.py"))
    assert files, "app/relayscope/ui has no modules"
    return files


def test_ui_imports_only_what_it_is_allowed() -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _ui_files()
        for name in sorted(imported_modules(path))
        if not _ui_allows(name)
        and (str(path.relative_to(ROOT)), name.split(".")[0]) not in UI_EXCEPTIONS
    ]
    assert offences == []


def test_ui_reads_the_database_through_the_store_only() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{node.lineno} reaches .{node.attr}"
        for path in _ui_files()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute)
        and node.attr in UI_FORBIDDEN_ATTRIBUTES
        and (str(path.relative_to(ROOT)), "." + node.attr) not in UI_EXCEPTIONS
    ]
    assert offences == []


def test_ui_exceptions_are_still_needed() -> None:
    """An exception whose reason went away is removed, so the list stays the truth."""
    stale = []
    for (module, what), _reason in UI_EXCEPTIONS.items():
        path = ROOT / module
        if what.startswith("."):
            tree = ast.parse(path.read_text(), str(path))
            used = any(isinstance(n, ast.Attribute) and n.attr == what[1:] for n in ast.walk(tree))
        else:
            used = any(n.split(".")[0] == what for n in imported_modules(path))
        if not used:
            stale.append(f"{module}: {what}")
    assert stale == []
