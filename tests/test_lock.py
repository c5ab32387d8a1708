"""The installed environment is the one uv.lock describes (no drift), and the lock matches
pyproject.toml. `bash dev/upgrade.sh` is the one way versions change."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, set[str]]:
    """Every locked version of each package (a lock may hold two, for different Pythons)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for package in lock["package"]:
        if "registry" in package.get("source", {}):
            out.setdefault(_canonical(package["name"]), set()).add(package["version"])
    return out


def _installed() -> dict[str, str]:
    return {
        _canonical(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"]
    }


def test_every_installed_package_has_its_locked_version() -> None:
    locked, installed = _locked(), _installed()
    drift = {
        name: f"installed {installed[name]}, locked {version}"
        for name, version in locked.items()
        if name in installed and installed[name] not in version
    }
    assert not drift, f"the environment drifted from uv.lock (run bash dev/setup.sh): {drift}"


def test_every_dependency_and_tool_is_installed_from_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [*project["project"]["dependencies"], *project["dependency-groups"]["dev"]]
    locked, installed = _locked(), _installed()
    for requirement in wanted:
        spec, _, marker = requirement.partition(";")
        if "python_version < '3.14'" in marker and not _below_314():
            continue
        name = _canonical(re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0])
        assert name in locked, f"{name} is required but not in uv.lock (run uv lock)"
        assert installed.get(name) in locked[name], f"{name} is not installed from uv.lock"


def test_the_lock_is_fresh_for_pyproject() -> None:
    """uv.lock records the requirements it was made from; they must be today's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    (own,) = [p for p in lock["package"] if p["name"] == project["project"]["name"]]
    locked = sorted(_canonical(r["name"]) for r in own["metadata"]["requires-dist"])
    declared = sorted(
        _canonical(re.split(r"[<>=!~\[; ]", r.strip(), maxsplit=1)[0])
        for r in project["project"]["dependencies"]
    )
    assert locked == declared, "pyproject.toml changed since uv.lock was made: run uv lock"


def _below_314() -> bool:
    import sys

    return sys.version_info < (3, 14)
