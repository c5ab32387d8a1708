"""ProviderPage: a provider's reliability, speed over time and signs, from seeded calls."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from relayscope.analysis.cost import Pricer, format_usd
from relayscope.analysis.diagnostics import as_markdown
from relayscope.store.call_store import CallStore
from relayscope.ui import provider_page
from relayscope.ui.main_window import MainWindow
from relayscope.ui.provider_page import ProviderPage, bucket_label
from relayscope.ui.worker_process import WorkerProcess
from tests.ui.conftest import call_row, insert_calls

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ANSWER = "A long, careful answer about the weather in Paris and Berlin. " * 12
SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")


def reseller_calls() -> list[dict[str, Any]]:
    """24 hours of a gateway that answers gpt-5.2 with a smaller model, under-reports usage,
    and fails more (and gets slower) as the day goes on; plus an honest provider."""
    rows = []
    for i in range(96):
        started = NOW - timedelta(hours=24) + timedelta(minutes=15 * i)
        failing = i % 9 == 0 or (i > 70 and i % 2 == 0)
        row = call_row(
            i,
            started,
            provider="resell",
            model="gpt-5.2",
            stream=0,
            state="error" if failing else "complete",
            status=(429 if i % 2 else 500) if failing else 200,
            response_model=None if failing else "gpt-4o-mini",
            output_text=None if failing else ANSWER,
            completion_tokens=None if failing else 12,  # ~190 tokens of text
            ttft_ms=300.0 + 12 * i,
            duration_ms=900.0 + 20 * i,
        )
        rows.append(row)
    for i in range(8):
        started = NOW - timedelta(hours=2) + timedelta(minutes=10 * i)
        rows.append(
            call_row(
                200 + i,
                started,
                provider="honest",
                model="gpt-5.2",
                state="complete",
                status=200,
                error=None,
                stream=0,
                response_model="gpt-5.2-2025-05-01",
                output_text="Short answer.",
                completion_tokens=4,
            )
        )
    return rows


@pytest.fixture
def seeded(db_path: Path) -> list[dict[str, Any]]:
    rows = reseller_calls()
    insert_calls(db_path, rows)
    return rows


@pytest.fixture
def page(db_path: Path, store: CallStore, seeded: Any, qtbot: QtBot, themed: Any) -> ProviderPage:
    widget = ProviderPage(db_path, store.providers(), "resell")
    qtbot.addWidget(widget)
    assert widget.report is None and widget.state.text() == "Reading resell's calls…"
    with qtbot.waitSignal(widget.report_ready, timeout=10_000):
        widget.show()
    return widget


def test_signs_of_a_substituting_under_reporting_reseller(page: ProviderPage) -> None:
    report = page.report
    assert report is not None and report.provider == "resell"
    assert page.sign_codes() == ["model_substituted", "usage_implausible"]
    texts = [label.text() for label in page.sign_labels()]
    assert "asked gpt-5.2, answered gpt-4o-mini" in texts[0]
    assert "output tokens far from their length" in texts[1]
    assert all("example call →" in text for text in texts)
    assert page.calls.value.text() == "96"
    errors = sum(report.errors_by_status.values())
    assert page.errors.value.text() == f"{errors / 96 * 100:.1f} %"
    assert page.errors.detail.text() == (
        f"429 × {report.errors_by_status[429]}  ·  500 × {report.errors_by_status[500]}"
    )
    assert page.ttft.detail.text().startswith("p95 ")
    assert page.state.text() == "From the last 96 finished calls"
    if SHOTS:
        page.grab().save(str(Path(SHOTS) / "provider-page.png"))


def test_the_cost_figure_counts_what_has_no_price(
    page: ProviderPage, seeded: list[dict[str, Any]]
) -> None:
    resell = [row for row in seeded if row["provider"] == "resell"]
    costs = [Pricer().price(row) for row in resell]
    known = [c.usd for c in costs if c.usd is not None]
    unknown = len(costs) - len(known)
    assert known and unknown  # gpt-5.2's list price; the failures without usage are unknown
    assert page.cost.value.text() == format_usd(sum(known, Decimal(0)))
    per_1k = format_usd(sum(known, Decimal(0)) / len(known) * 1000)
    per_hour = format_usd(sum(known, Decimal(0)) / Decimal(str(page.report.hours)))
    assert page.cost.detail.text() == (
        f"{per_1k} per 1k calls  ·  {per_hour} per hour  ·  {unknown} of 96 calls of unknown cost"
    )
    assert 23 < page.report.hours < 24  # 96 calls 15 minutes apart


def test_a_provider_without_prices_shows_unknown_not_zero(db_path: Path, qtbot: QtBot) -> None:
    rows = [
        call_row(i, NOW - timedelta(minutes=i), provider="local", model="llama-own", status=200)
        for i in range(1, 5)
    ]
    insert_calls(db_path, rows)
    widget = ProviderPage(db_path, ["local"], "local")
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.report_ready, timeout=10_000):
        widget.show()
    assert widget.cost.value.text() == "—"
    assert widget.cost.detail.text() == "4 of 4 calls of unknown cost"
    assert "- cost: unknown for all 4 calls" in as_markdown([widget.report])


def test_the_plots_follow_the_buckets(page: ProviderPage) -> None:
    report = page.report
    assert report is not None
    assert 20 <= len(report.buckets) <= 26  # 24 hours at one point an hour
    ttft = page.ttft_plot.values()
    assert ttft == [b.ttft_p50 for b in report.buckets]
    assert ttft[-1] is not None and ttft[0] is not None and ttft[-1] > ttft[0]  # slower later
    rates = page.error_plot.values()
    assert rates[-1] is not None and rates[0] is not None and rates[-1] > rates[0]
    first = report.buckets[0]
    assert page.ttft_plot.tooltip_at(page.ttft_plot._plot().left()).startswith(
        bucket_label(first.start, 60) + " · "
    )


def test_an_honest_provider_shows_no_signs(page: ProviderPage, qtbot: QtBot) -> None:
    with qtbot.waitSignal(page.report_ready, timeout=10_000) as ready:
        page.choose("honest")
    assert ready.args == ["honest"]
    assert page.sign_codes() == []
    assert page.sign_labels()[0].text().startswith("✓ No signs")
    assert page.errors.detail.text() == "no HTTP errors"


def test_reports_are_computed_off_the_gui_thread(
    page: ProviderPage, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    original = provider_page.diagnose

    def diagnose(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(provider_page, "diagnose", diagnose)
    with qtbot.waitSignal(page.report_ready, timeout=10_000):
        page.refresh()
    assert threads and threads[0] is not threading.main_thread()


def test_export_saves_markdown_or_json(page: ProviderPage, tmp_path: Path) -> None:
    page.export_report(tmp_path / "resell.md")
    markdown = (tmp_path / "resell.md").read_text()
    assert markdown.startswith("# Provider diagnostics") and "## resell" in markdown
    assert "**model_substituted**" in markdown
    assert page.report is not None
    assert f"- cost: {page.report.cost_text()}\n" in markdown and " unknown · $" in markdown
    page.export_report(tmp_path / "resell.json")
    (report,) = json.loads((tmp_path / "resell.json").read_text())
    assert report["provider"] == "resell" and report["calls"] == 96
    cost = report["cost"]
    assert cost["usd"] > 0 and cost["priced_calls"] + cost["unknown_calls"] == 96
    assert cost["per_1k_calls"] > 0 and cost["per_hour"] > 0
    assert sum(b["cost"]["priced_calls"] for b in report["buckets"]) == cost["priced_calls"]
    assert [s["code"] for s in report["signs"]] == ["model_substituted", "usage_implausible"]


@pytest.fixture
def window(
    store: CallStore, seeded: Any, qtbot: QtBot, themed: Any, tmp_path: Path
) -> Iterator[MainWindow]:
    win = MainWindow(store, WorkerProcess(store.path), config_path=tmp_path / "config.toml")
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_an_example_call_link_selects_the_call_in_the_list(
    window: MainWindow, qtbot: QtBot
) -> None:
    window.filter_bar.provider.setCurrentIndex(window.filter_bar.provider.findData("resell"))
    window.diagnostics_action.trigger()
    page = window.provider_page
    assert page is not None and page.current_provider() == "resell"
    qtbot.waitUntil(lambda: page.report is not None, timeout=10_000)
    assert page.report is not None
    example = page.report.signs[0].example
    assert example is not None
    page.sign_labels()[0].linkActivated.emit(f"call:{example}")
    assert window.call_list.current_call_id() == example
    assert window.inspector.call_id() == example
