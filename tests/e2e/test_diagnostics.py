"""Provider diagnostics on real recordings: an honest provider and a dishonest reseller."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import openai

from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess


def test_diagnostics_tell_the_honest_provider_from_the_reseller(tmp_path: Path) -> None:
    with (
        FakeProvider(name="honest", words=60) as honest,
        FakeProvider(
            name="reseller", words=60, substitute_model="gpt-4o-mini", usage_scale=0.1
        ) as reseller,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "honest"\nbase_url = "{honest.base_url}"\nmodels = ["h-*"]\n'
            'prices = { "h-*" = { input = 1.0, output = 2.0 } }\n'
            f'[[providers]]\nname = "reseller"\nbase_url = "{reseller.base_url}"\n'
            'models = ["gpt-*"]\n',
        ) as worker,
    ):
        with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
            for index in range(4):
                for model in ("h-model", "gpt-4o"):
                    messages = [{"role": "user", "content": f"question {index}"}]
                    if index % 2:
                        list(
                            client.chat.completions.create(
                                model=model, messages=messages, stream=True
                            )
                        )
                    else:
                        client.chat.completions.create(model=model, messages=messages)
            with contextlib.suppress(openai.RateLimitError):
                client.chat.completions.create(
                    model="gpt-4o",
                    extra_headers={"x-fake-scenario": "fail-429"},
                    messages=[{"role": "user", "content": "x"}],
                )
        worker.wait_for_calls(9)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "relayscope", "diagnose", "--db", str(worker.db_path)),
            *("--config", str(worker.config_path), "--format", "json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    reports = {r["provider"]: r for r in json.loads(result.stdout)}
    assert reports["honest"]["signs"] == []
    assert reports["honest"]["calls"] == 4 and reports["honest"]["error_rate"] == 0
    signs = {s["code"]: s for s in reports["reseller"]["signs"]}
    assert "model_substituted" in signs and "gpt-4o-mini" in signs["model_substituted"]["message"]
    assert "usage_implausible" in signs
    assert reports["reseller"]["errors_by_status"] == {"429": 1}
    assert reports["reseller"]["ttft_ms"]["p50"] is not None
    # Priced with the config's own prices (the fake's h-model has no list price).
    assert reports["honest"]["cost"]["usd"] > 0
    assert (
        reports["honest"]["cost"]["priced_calls"],
        reports["honest"]["cost"]["unknown_calls"],
    ) == (4, 0)
    # gpt-4o's list price for the answers; the 429 has no usage, so its cost is unknown.
    assert reports["reseller"]["cost"]["unknown_calls"] == 1
    assert reports["reseller"]["cost"]["per_1k_calls"] > 0
    assert reports["reseller"]["cost"]["per_hour"] is None  # a minute of calls: no hourly rate
    markdown = subprocess.run(
        [sys.executable, "-m", "relayscope", "diagnose", "reseller", "--db", str(worker.db_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "## reseller" in markdown and "model_substituted" in markdown
    assert " + 1 unknown · $" in markdown and " per 1k calls" in markdown
