"""The cached price list prices every call exactly as genai-prices' `calc_price` does, and a
missing, stale, corrupt or hostile cache file never crashes nor misprices."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from genai_prices import types
from genai_prices.data_snapshot import get_snapshot

from relayscope.analysis import cost, price_list
from relayscope.analysis.cost import Pricer, TokenUsage
from relayscope.analysis.price_list import DEFER, PriceList, read_cache, source_key, write_cache

Tokens = tuple[int, int, int, int]
USAGES: tuple[Tokens, ...] = (
    (1000, 500, 400, 0),
    (1000, 500, 0, 300),
    (0, 0, 0, 0),
    (7, 0, 0, 0),
    (123_457, 9_871, 50_001, 2_003),
    (200_001, 1_000, 100_000, 50_000),
    (128_000, 4_000, 0, 0),
    (1_000_003, 77_777, 333_333, 111_111),
)


def genai(tokens: Tokens, model: str, when: datetime) -> tuple[Decimal, str] | None:
    i, o, r, w = tokens
    usage = genai_prices.Usage(
        input_tokens=i, output_tokens=o, cache_read_tokens=r, cache_write_tokens=w
    )
    try:
        result = genai_prices.calc_price(usage, model, genai_request_timestamp=when)
    except LookupError:
        return None
    return result.total_price, f"{result.provider.id}/{result.model.id}"


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """What is stored of the installed genai-prices."""
    from relayscope.analysis import price_list_build

    return price_list_build.build()[1]


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Any]) -> PriceList:
    """The price list as a later start reads it: built, written, read back."""
    data = built
    path = tmp_path_factory.mktemp("cache") / "genai-prices.json"
    key = source_key()
    assert key is not None
    write_cache(path, key, data)
    prices = read_cache(path, key)
    assert prices is not None
    return prices


def same(prices: PriceList, tokens: Tokens, model: str, when: datetime) -> bool:
    got = prices.price(tokens, model, when)
    expected = genai(tokens, model, when)
    if got is DEFER:
        return True  # genai-prices is asked for it: the same by definition
    if got is None or expected is None:
        return got is expected
    assert not isinstance(got, price_list.Defer)
    # The same Decimal to the last digit and exponent, and the same provider and model.
    return got == expected and got[0].as_tuple() == expected[0].as_tuple()


def names(model: types.ModelInfo) -> Iterator[str]:
    """Names a call could carry for this model: its id, what its clauses match, variants."""
    yield model.id
    yield model.id.upper()
    yield f"{model.id}-20251211"
    stack: list[object] = [model.match]
    while stack:
        clause = stack.pop()
        if isinstance(clause, types.ClauseEquals):
            yield clause.equals
        elif isinstance(clause, types.ClauseStartsWith):
            yield clause.starts_with + "-preview"
        elif isinstance(clause, types.ClauseContains):
            yield "x-" + clause.contains
        elif isinstance(clause, types.ClauseOr | types.ClauseAnd):
            stack.extend(getattr(clause, "or_", None) or getattr(clause, "and_", []))


def test_every_model_is_priced_as_genai_prices_prices_it(cached: PriceList) -> None:
    rng = random.Random(17)
    when = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    checked = deferred = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            if isinstance(cached.price(USAGES[0], model.id, when), price_list.Defer):
                deferred += 1
            for name in names(model):
                tokens = rng.choice(USAGES)
                assert same(cached, tokens, name, when), (name, tokens)
                checked += 1
    assert checked > 5000
    assert deferred == 0  # else pricing those models imports genai-prices after all


@pytest.mark.parametrize(
    "name",
    [
        "gpt-5.2",
        "GPT-5.2",
        "gpt-5.2-20251211",
        "openai/gpt-5.2",
        "claude-sonnet-4-6",
        "claude-sonnet-4.5",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "gemini-2.5-pro",
        "deepseek-chat",
        "qwen3-coder",
        "llama-4",
        "demo-1",
        "",
        "gpt-4o-2024-13-45",
        "claude-",
    ],
)
def test_names_and_unknown_names_match_as_in_genai_prices(cached: PriceList, name: str) -> None:
    for tokens in USAGES:
        assert same(cached, tokens, name, datetime(2026, 6, 1, tzinfo=UTC)), tokens


def moments(model: types.ModelInfo) -> Iterator[datetime]:
    """Instants on both sides of each of the model's price changes, in several time zones."""
    if not isinstance(model.prices, list):
        return
    east, west = timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))
    for conditional in model.prices:
        constraint = conditional.constraint
        if isinstance(constraint, types.StartDateConstraint):
            midnight = datetime.combine(constraint.start_date, time(), tzinfo=UTC)
            for at in (midnight, midnight - timedelta(microseconds=1)):
                yield at
                yield at.astimezone(east)
                yield at.astimezone(west)
                yield at.replace(tzinfo=None)
        elif isinstance(constraint, types.TimeOfDateConstraint):
            for edge in (constraint.start_time, constraint.end_time):
                day = datetime(2026, 3, 14, tzinfo=UTC)
                at = datetime.combine(day.date(), edge.replace(tzinfo=None), tzinfo=UTC)
                for moment in (at, at - timedelta(microseconds=1), at + timedelta(minutes=1)):
                    yield moment
                    yield moment.astimezone(west)
                    yield moment.replace(tzinfo=None)


def test_prices_that_change_over_time_change_at_the_same_instant(cached: PriceList) -> None:
    checked = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            for when in moments(model):
                for tokens in (USAGES[0], USAGES[5]):
                    assert same(cached, tokens, model.id, when), (model.id, when)
                    checked += 1
    assert checked > 500


def test_tiered_prices_switch_at_the_same_input_tokens(cached: PriceList) -> None:
    when = datetime(2026, 12, 1, tzinfo=UTC)
    checked = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            prices = model.get_prices(when)
            starts = {
                tier.start
                for value in vars(prices).values()
                if isinstance(value, types.TieredPrices)
                for tier in value.tiers
            }
            for start in starts:
                for inputs in (start - 1, start, start + 1):
                    assert same(cached, (inputs, 100, inputs // 2, 0), model.id, when)
                    checked += 1
    assert checked > 100


# --- the cache file -------------------------------------------------------------------------


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`cost` as at a process's start, with its cache file in tmp_path."""
    path = tmp_path / "cache" / "genai-prices.json"
    monkeypatch.setattr(price_list, "cache_file", lambda: path)
    monkeypatch.setattr(cost, "_loaded", threading.Event())
    monkeypatch.setattr(cost, "_started", threading.Lock())
    monkeypatch.setattr(cost, "_prices", None)
    return path


GPT_52_TOKENS = (1000, 500, 400, 0)
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def listed() -> tuple[Decimal, str] | None:
    return cost.list_price(TokenUsage(*GPT_52_TOKENS), "gpt-5.2", WHEN)


def test_a_missing_cache_is_built_and_a_later_start_reads_it(fresh: Path) -> None:
    assert listed() == (Decimal("0.00812"), "openai/gpt-5.2")
    assert fresh.is_file()
    assert [p.name for p in fresh.parent.iterdir()] == ["genai-prices.json"]  # no temp file
    key = source_key()
    assert key is not None
    assert read_cache(fresh, key) is not None


def corrupt(path: Path) -> Iterator[tuple[str, bytes]]:
    good = path.read_bytes()
    head, body = good.split(b"\n", 1)
    yield "empty", b""
    yield "truncated", good[: len(good) // 2]
    yield "a byte flipped", good[:-100] + bytes([good[-100] ^ 1]) + good[-99:]
    yield "not ours", b"\x00\xff garbage\n" * 100
    yield "another genai-prices", head.replace(b":", b":0", 1) + b"\n" + body
    yield "another format", head.replace(b" 1 ", b" 99 ", 1) + b"\n" + body
    yield "no body", head + b"\n"


def test_a_corrupt_or_stale_cache_is_ignored_and_written_again(fresh: Path) -> None:
    expected = listed()
    good = fresh.read_bytes()
    key = source_key()
    assert key is not None
    for what, content in corrupt(fresh):
        fresh.write_bytes(content)
        assert read_cache(fresh, key) is None, what
    # What the app then does: prices as genai-prices does, and writes the cache again.
    fresh.write_bytes(good[:-1])
    cost._loaded.clear()
    assert listed() == expected
    assert fresh.read_bytes() == good
    assert read_cache(fresh, key) is not None


def hostile(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    providers = data["providers"]
    assert isinstance(providers, list)
    openai = next(i for i, p in enumerate(providers) if p[0] == "openai")

    def changed(path: tuple[int, ...], value: object) -> list[object]:
        copy: list[object] = __import__("copy").deepcopy(providers)
        node: list[object] = copy
        for step in path[:-1]:
            node = node[step]  # type: ignore[assignment]
        node[path[-1]] = value
        return copy

    gpt = next(i for i, m in enumerate(providers[openai][3]) if m[0] == "gpt-5.2")
    yield "a clause of an unknown kind", {**data, "providers": changed((openai, 1), ["eval", "x"])}
    yield "a model's clause not a list", {**data, "providers": changed((openai, 3, gpt, 1), 5)}
    yield (
        "periods pointing nowhere",
        {**data, "providers": changed((openai, 3, gpt, 2), [[None, None, 10**9]])},
    )
    yield (
        "a date that is not one",
        {**data, "providers": changed((openai, 3, gpt, 2), [["tomorrow", None, 0]])},
    )
    yield "no periods", {**data, "providers": changed((openai, 3, gpt, 2), [])}
    yield "terms not terms", {**data, "terms": [["-1", None, 0, [0, 1]]] * len(data["terms"])}
    yield (
        "negative prices",
        {**data, "terms": [[["-1", None, 1, [0, 1, 1, 1, 1]]]] * len(data["terms"])},
    )
    yield (
        "prices as numbers",
        {**data, "terms": [[[1, None, 1, [0, 1, 1, 1, 1]]]] * len(data["terms"])},
    )
    yield "a bad regex", {**data, "providers": changed((openai, 3, gpt, 1), ["re", "(("])}


def test_a_hostile_cache_that_passes_its_hash_never_crashes_nor_misprices(
    fresh: Path, built: dict[str, Any]
) -> None:
    """A file crafted with a correct hash: whatever in it is malformed, the price is asked of
    genai-prices (and nothing raises)."""
    expected = genai(GPT_52_TOKENS, "gpt-5.2", WHEN)
    key = source_key()
    assert key is not None
    for what, bad in hostile(built):
        write_cache(fresh, key, bad)
        cost._loaded.clear()
        cost._prices = None
        assert listed() == expected, what
        assert Pricer().price_usage(TokenUsage(10, 5), model="no-such-model").usd is None


def test_an_unwritable_cache_directory_still_prices(fresh: Path) -> None:
    fresh.parent.parent.mkdir(parents=True, exist_ok=True)
    fresh.parent.write_text("a file where the directory should be")
    assert listed() == (Decimal("0.00812"), "openai/gpt-5.2")
    assert cost.prices_loaded()


def test_the_packaged_app_keys_the_cache_by_its_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PyInstaller keeps genai-prices' modules inside the executable: its hash keys the cache."""
    executable = tmp_path / "relayscope"
    executable.write_bytes(b"one build")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(executable))
    first = source_key()
    executable.write_bytes(b"another build")
    second = source_key()
    assert first is not None and second is not None and first != second
    executable.unlink()
    assert source_key() is None


def test_no_cache_directory_at_all_still_prices(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nowhere() -> Path:
        raise RuntimeError("no home directory")

    monkeypatch.setattr(price_list, "cache_file", nowhere)
    assert listed() == (Decimal("0.00812"), "openai/gpt-5.2")
