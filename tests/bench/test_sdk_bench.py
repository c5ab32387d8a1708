"""Smoke tests for bench/sdk_bench.py: the SDK reads a whole stream from the bench upstream
and a round of figures renders."""

from __future__ import annotations

from bench.sdk_bench import render, sdk_client, sdk_round
from bench.upstream import BenchProvider


def test_the_sdk_reads_every_chunk_of_a_stream() -> None:
    with BenchProvider(name="bench") as provider, sdk_client(provider.port) as client:
        result = sdk_round(client, 200, 2)
    assert result["sdk_lost"] == 0 and result["sdk_text_bad"] == 0
    assert result["sdk_cps"] > 0 and result["sdk_first_ms"] > 0


def test_figures_render_with_ratios_to_both_floors() -> None:
    names = ("direct", "relayscope", "mitmdump", "mitm-lean")
    values = {
        key: {name: [1.0 + i, 2.0 + i] for i, name in enumerate(names)}
        for key in ("lat_p50", "lat_p99", "sdk_cps", "sdk_first_ms", "sdk_lost", "sdk_text_bad")
    }
    text = render(values)
    assert "| latency p99 (ms) |" in text and "relayscope / mitmdump, SDK chunks/s" in text
    assert "relayscope p99 over the lean floor's" in text
