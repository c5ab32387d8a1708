"""The one way numbers and times are written (relayscope.calls.formatting), pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from relayscope.calls import formatting as f


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (None, "—"),
        (0, "0 ms"),
        (0.0, "0 ms"),
        (3.0, "3 ms"),
        (3.24, "3.2 ms"),
        (9.94, "9.9 ms"),
        (9.96, "10 ms"),
        (32.023, "32 ms"),
        (412.4, "412 ms"),
        (999.4, "999 ms"),
        (999.6, "1.00 s"),
        (1830.0, "1.83 s"),
        (3481.0, "3.48 s"),
        (9996.0, "10.0 s"),
        (42_140.0, "42.1 s"),
        (59_960.0, "1 min 00 s"),
        (125_000.0, "2 min 05 s"),
        (3_599_600.0, "1 h 00 min"),
        (3_900_000.0, "1 h 05 min"),
        (90_000_000.0, "25 h 00 min"),
        (-412.0, "-412 ms"),
        (-1500.0, "-1.50 s"),
    ],
)
def test_durations_have_three_significant_figures_then_minutes(
    ms: float | None, shown: str
) -> None:
    assert f.duration_ms(ms) == shown


def test_counts_of_tokens() -> None:
    assert f.tokens(None) == "—"
    assert f.tokens(0) == "0"
    assert f.tokens(1_234_567) == "1,234,567"
    assert f.tokens_in_out(9, 812) == "9 / 812"
    assert f.tokens_in_out(12_345, None) == "12,345 / —"
    assert f.tokens_in_out(None, None) == "—"


def test_rate() -> None:
    assert f.rate(None) == "—"
    assert f.rate(13.04) == "13.0 tok/s"
    assert f.rate(1234.56) == "1,234.6 tok/s"


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (None, "—"),
        (0, "0 B"),
        (812, "812 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (41_062, "40.1 KiB"),
        (1024 * 1024 - 1, "1.0 MiB"),
        (16 * 1024 * 1024, "16.0 MiB"),
        (int(2.34 * 1024**3), "2.3 GiB"),
    ],
)
def test_sizes_in_binary_units(n: int | None, shown: str) -> None:
    assert f.size(n) == shown


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (None, "—"),
        (Decimal(0), "$0.00"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("1.234"), "$1.23"),
        (Decimal("0.04213"), "$0.0421"),
        (Decimal("0.000312"), "$0.00031"),
        (Decimal("0.0000031"), "$0.0000031"),
    ],
)
def test_costs_in_dollars_never_zero_when_unknown(usd: Decimal | None, shown: str) -> None:
    assert f.usd(usd) == shown


def test_times_are_local() -> None:
    here = datetime(2026, 12, 2, 14, 5, 9).astimezone()  # local
    now = here + timedelta(minutes=3)
    assert f.time_of_day(here, now) == "14:05:09"
    assert f.time_of_day(here - timedelta(days=1), now) == "Dec 01 14:05:09"
    as_utc = here.astimezone(UTC).isoformat().replace("+00:00", "Z")  # as recorded
    assert f.time_of_day(as_utc, now) == "14:05:09"
    assert f.timestamp(as_utc) == "2026-12-02 14:05:09"
    assert f.timestamp(here.astimezone(timezone(timedelta(hours=-7)))) == "2026-12-02 14:05:09"


@pytest.mark.parametrize("value", [None, ""])
def test_no_time_is_a_dash(value: object) -> None:
    assert f.time_of_day(value) == f.timestamp(value) == f.relative(value) == "—"


def test_an_unreadable_time_is_shown_as_it_is() -> None:
    assert f.timestamp("yesterday-ish") == "yesterday-ish"
    assert f.parse_time("yesterday-ish") is None


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(seconds=-30), "in the future"),
        (timedelta(0), "just now"),
        (timedelta(seconds=42), "42 s ago"),
        (timedelta(minutes=5, seconds=59), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(hours=30), "yesterday"),
        (timedelta(days=4), "4 days ago"),
        (timedelta(days=33), "2026-10-30"),
    ],
)
def test_relative_times(ago: timedelta, shown: str) -> None:
    now = datetime(2026, 12, 2, 23, 0, 0).astimezone()
    assert f.relative(now - ago, now) == shown
