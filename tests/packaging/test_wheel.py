"""The wheel `pip install` gets: one import name, `relayscope`, with both of its folders inside."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Build from a copy: setuptools leaves build/ and *.egg-info behind in its source folder.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("app", "proxy_addons"):
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    out = tmp_path_factory.mktemp("dist")
    build = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return zipfile.ZipFile(out / result.stdout.strip().splitlines()[-1])


def test_nothing_named_app_or_proxy_addons_is_installed(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist()}
    assert top == {"relayscope", "relayscope-0.1.0.dist-info"}


def test_both_halves_and_every_package_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "relayscope/__init__.py" not in names  # a namespace: the two folders share it
    for root in (ROOT / "app", ROOT / "proxy_addons"):
        for module in root.rglob("*.py"):
            if "__pycache__" not in module.parts:
                assert module.relative_to(root).as_posix() in names
    entry = wheel.read("relayscope-0.1.0.dist-info/entry_points.txt").decode()
    assert "relayscope = relayscope.cli.main:main" in entry.splitlines()
