"""The cost ledger: each API's usage shape priced against figures worked out by hand."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from relayscope.analysis import cost
from relayscope.analysis.cost import CostTotal, Pricer, TokenUsage
from relayscope.config import ConfigError, ModelPrice, Provider, parse_config
from relayscope.config.writer import config_to_toml
from relayscope.protocols.openai_format import anthropic_usage

# gpt-5.2's list price per million tokens in the bundled data: input $1.75, cached $0.175,
# output $14. claude-sonnet-4-6: input $3, cache read $0.30, cache write (5 min) $3.75,
# output $15.
CHAT_USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 500,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 400},
    "completion_tokens_details": {"reasoning_tokens": 200},
}
# 600 uncached x 1.75 + 400 cached x 0.175 + 500 out (200 of them reasoning) x 14
GPT_52_COST = Decimal("0.00812")


def _row(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5.2", "provider": "openai", "started_at": "2026-12-01T10:00:00.000Z"} | (
        fields
    )


def test_chat_usage_counts_cached_and_reasoning_tokens_once() -> None:
    usage = cost.usage_from_chat(CHAT_USAGE)
    assert usage == TokenUsage(1000, 500, cache_read_tokens=400, reasoning_tokens=200)
    assert usage.uncached_input_tokens == 600
    priced = Pricer().price_usage(usage, model="gpt-5.2")
    assert priced.usd == GPT_52_COST
    assert priced.basis == "openai/gpt-5.2 list price"
    assert priced.text() == "$0.00812"


def test_responses_usage_has_the_same_meaning_under_other_names() -> None:
    usage = cost.usage_from_responses(
        {
            "input_tokens": 1000,
            "input_tokens_details": {"cached_tokens": 400},
            "output_tokens": 500,
            "output_tokens_details": {"reasoning_tokens": 200},
            "total_tokens": 1500,
        }
    )
    assert usage == cost.usage_from_chat(CHAT_USAGE)
    assert Pricer().price_usage(usage, model="gpt-5.2").usd == GPT_52_COST


def test_anthropic_input_tokens_leave_out_cache_reads_and_writes() -> None:
    usage = cost.usage_from_anthropic(
        {
            "input_tokens": 600,
            "cache_read_input_tokens": 300,
            "cache_creation_input_tokens": 100,
            "output_tokens": 500,
        }
    )
    assert usage.input_tokens == 1000 and usage.uncached_input_tokens == 600
    priced = Pricer().price_usage(usage, model="claude-sonnet-4-6")
    # 600 x 3 + 300 x 0.30 + 100 x 3.75 + 500 x 15 = 9,765 per million
    assert priced.usd == Decimal("0.009765")


def test_a_recorded_messages_call_costs_what_its_anthropic_usage_does() -> None:
    # The recorder stores Anthropic usage in chat terms (openai_format.anthropic_usage):
    # prompt_tokens counts cache reads and writes, cache_write_tokens keeps the writes apart.
    raw = {
        "input_tokens": 600,
        "cache_read_input_tokens": 300,
        "cache_creation_input_tokens": 100,
        "output_tokens": 500,
    }
    recorded = anthropic_usage(raw)
    assert recorded is not None
    row = _row(
        model="claude-sonnet-4-6",
        prompt_tokens=recorded.prompt_tokens,
        completion_tokens=recorded.completion_tokens,
        cached_tokens=recorded.cached_tokens,
        cache_write_tokens=recorded.cache_write_tokens,
    )
    assert cost.usage_from_row(row) == cost.usage_from_anthropic(raw)
    assert Pricer().price(row).usd == Decimal("0.009765")


def test_a_recorded_row_is_priced_from_its_usage_columns() -> None:
    row = _row(prompt_tokens=1000, completion_tokens=500, cached_tokens=400, reasoning_tokens=200)
    assert Pricer().price(row).usd == GPT_52_COST


def test_unknown_price_and_missing_usage_are_unknown_never_zero() -> None:
    pricer = Pricer()
    unknown_model = pricer.price(_row(model="demo-1", prompt_tokens=10, completion_tokens=5))
    assert unknown_model.usd is None and unknown_model.text() == "—"
    assert "demo-1" in unknown_model.basis
    no_usage = pricer.price(_row(status=429))
    assert no_usage.usd is None and no_usage.basis == "no usage recorded"
    assert no_usage.as_json() == {"usd": None, "basis": "no usage recorded"}


def test_the_demo_providers_models_have_a_demo_price_that_says_so() -> None:
    row = _row(model="demo-agent", provider="demo", prompt_tokens=2000, completion_tokens=100)
    priced = Pricer().price(row | {"cached_tokens": 1024})
    # 976 x $1 + 1,024 x $0.10 + 100 x $4 per million
    assert priced.usd == Decimal("0.0014784")
    assert priced.basis.startswith("demo pricing, not a real price")
    # Only the demo provider's calls: a demo-named model elsewhere stays unknown.
    assert not Pricer().price(row | {"provider": "openai"}).known
    # The config's own prices for the demo provider come first.
    own = Provider("demo", "http://demo.relayscope.invalid/v1", prices=(ModelPrice("*", 0, 0),))
    assert Pricer([own]).price(row).basis == "demo price for *"


def test_usage_that_does_not_add_up_has_no_price() -> None:
    priced = Pricer().price(_row(prompt_tokens=50, completion_tokens=5, cached_tokens=1900))
    assert priced.usd is None
    assert priced.basis == "usage does not add up (1,900 cached of 50 input tokens)"


def test_a_resellers_price_table_and_multiplier() -> None:
    own = Provider(
        "gw",
        "https://gw.example/v1",
        prices=(ModelPrice("gpt-*", input=1.0, output=2.0, cached=0.1),),
    )
    half = Provider("half", "https://half.example/v1", price_multiplier=0.5)
    pricer = Pricer([own, half])
    row = _row(prompt_tokens=1000, completion_tokens=500, cached_tokens=400)
    # 600 x 1 + 400 x 0.1 + 500 x 2 = 1,640 per million
    assert pricer.price(row | {"provider": "gw"}).usd == Decimal("0.00164")
    assert pricer.price(row | {"provider": "gw"}).basis == "gw price for gpt-*"
    halved = pricer.price(row | {"provider": "half"})
    assert halved.usd == GPT_52_COST / 2 and "× 0.5" in halved.basis
    # A model the table does not cover falls back to the list price.
    assert pricer.price(row | {"provider": "gw", "model": "claude-sonnet-4-6"}).known


def test_a_price_table_without_a_cached_price_charges_cached_input_as_input() -> None:
    usage = TokenUsage(1000, 0, cache_read_tokens=400)
    assert cost.price_table_cost(usage, ModelPrice("*", 2.0, 0.0)) == Decimal("0.002")


def test_prices_in_the_config_are_read_checked_and_written_back(tmp_path: Path) -> None:
    data = {
        "providers": [
            {
                "name": "gw",
                "base_url": "https://gw.example/v1",
                "price_multiplier": 0.5,
                "prices": {"gpt-*": {"input": 1, "output": 2.5, "cached": 0.1}},
            }
        ]
    }
    config = parse_config(data, tmp_path / "c.toml")
    gw = config.providers[0]
    assert gw.price_multiplier == 0.5
    assert gw.prices == (ModelPrice("gpt-*", 1.0, 2.5, 0.1, None),)
    import tomllib

    again = parse_config(tomllib.loads(config_to_toml(config)), tmp_path / "c.toml")
    assert again.providers[0] == gw
    bad = {"providers": [data["providers"][0] | {"prices": {"gpt-*": {"input": 1}}}]}
    with pytest.raises(ConfigError, match="needs input and output"):
        parse_config(bad, tmp_path / "c.toml")
    negative = {"providers": [data["providers"][0] | {"price_multiplier": -1}]}
    with pytest.raises(ConfigError, match="price_multiplier"):
        parse_config(negative, tmp_path / "c.toml")


def test_totals_keep_count_of_unknown_costs() -> None:
    pricer = Pricer()
    calls = [
        _row(prompt_tokens=1000, completion_tokens=500, cached_tokens=400, reasoning_tokens=200),
        _row(prompt_tokens=1000, completion_tokens=500, cached_tokens=400, reasoning_tokens=200),
        _row(model="local-llama", provider="ollama", prompt_tokens=5, completion_tokens=5),
    ]
    by_provider = cost.ledger(calls, pricer, by="provider")
    assert by_provider["openai"][0] == CostTotal(GPT_52_COST * 2, 2, 0)
    assert by_provider["openai"][1].cache_read_tokens == 800
    assert by_provider["ollama"][0].text() == "—"
    day = cost.ledger(calls, pricer, by="day")["2026-12-01"][0]
    assert day.text() == "$0.0162 + 1 unknown"
    assert day.as_json() == {"usd": 0.01624, "priced_calls": 2, "unknown_calls": 1}


def test_prices_come_from_the_bundled_data_without_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """genai-prices can fetch newer prices in a background thread (UpdatePrices); Relayscope
    never starts it, so pricing works offline and never phones home."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    threads = set(threading.enumerate())
    assert Pricer().price_usage(TokenUsage(1000, 500, 400), model="gpt-5.2").known
    assert set(threading.enumerate()) == threads
    from genai_prices import data_snapshot

    assert data_snapshot.get_snapshot().from_auto_update is False


def test_the_cli_prices_calls_in_a_process_that_cannot_resolve_hosts(tmp_path: Path) -> None:
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise SystemExit('network used')\n"
        "socket.getaddrinfo = refuse\n"
        "socket.socket.connect = refuse\n"
        "from relayscope.analysis.cost import Pricer, TokenUsage\n"
        "print(Pricer().price_usage(TokenUsage(1000, 500, 400), model='gpt-5.2').text())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "$0.00812"
