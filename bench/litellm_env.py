"""LiteLLM proxy, installed on demand into its own virtual environment (never into ours).

The environment lives in ``$XDG_CACHE_HOME/relayscope-bench/litellm-venv`` (default
``~/.cache/...``) and is reused by later runs; delete it to reinstall.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.rawhttp import BENCH_KEY

PACKAGE = "litellm[proxy]"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "relayscope-bench"


def _python312() -> str | None:
    """A Python 3.12 for the venv: ours (the project needs 3.12 too), else one on PATH."""
    ours = Path(sys.base_prefix) / "bin" / "python3.12"
    if sys.version_info[:2] == (3, 12) and ours.exists():
        return str(ours)
    return shutil.which("python3.12")


def ensure_litellm(log: Path) -> tuple[Path | None, str]:
    """The `litellm` executable (installing it if needed), or None and why not."""
    venv = cache_dir() / "litellm-venv"
    exe = venv / "bin" / "litellm"
    marker = venv / ".relayscope-bench-ok"
    if marker.exists() and exe.exists():
        return exe, _version(venv)
    python = _python312()
    if python is None:
        return None, "no python3.12 found to create LiteLLM's environment"
    venv.parent.mkdir(parents=True, exist_ok=True)
    print(f"installing {PACKAGE} into {venv} (once; log: {log}) ...", flush=True)
    with log.open("ab") as out:
        steps = [
            [python, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", PACKAGE],
        ]
        for step in steps:
            try:
                result = subprocess.run(step, stdout=out, stderr=out, timeout=1800)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return None, f"installing LiteLLM failed ({exc})"
            if result.returncode != 0:
                return None, f"installing LiteLLM failed (exit {result.returncode}; see {log})"
    if not exe.exists():
        return None, f"LiteLLM installed but {exe} is missing"
    marker.write_text(PACKAGE + "\n")
    return exe, _version(venv)


def _version(venv: Path) -> str:
    try:
        out = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import importlib.metadata as m; print(m.version('litellm'))",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() or "?"


def config_yaml(upstream_port: int, models: list[str]) -> str:
    """Every benchmark model routed to the fake upstream as an OpenAI-compatible model."""
    lines = ["model_list:"]
    for model in models:
        lines += [
            f"  - model_name: {model}",
            "    litellm_params:",
            f"      model: openai/{model}",
            f"      api_base: http://127.0.0.1:{upstream_port}/v1",
            "      api_key: sk-bench-upstream",
        ]
    lines += ["general_settings:", f"  master_key: {BENCH_KEY}"]
    return "\n".join(lines) + "\n"


ENV = {
    # Without these LiteLLM fetches its model price map from GitHub at start (and retries
    # for seconds when offline) and sends telemetry; neither belongs in a loopback benchmark.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
}
