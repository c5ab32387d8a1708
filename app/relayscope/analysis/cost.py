"""The cost ledger: what a call cost, from its recorded usage and a price, and sums of costs.

Prices come from genai-prices (Pydantic's maintained price data, bundled with the package:
nothing is fetched at run time) unless a provider's config names its own (`prices`) or scales
the list price (`price_multiplier`). Costs are computed when read, never stored, so a price
correction applies to every call already recorded.

Usage is normalised into `TokenUsage`, whose `input_tokens` counts every input token, cached
or not. Each API reports this differently, and getting it wrong double- or under-counts:
- OpenAI chat: `prompt_tokens` already INCLUDES `prompt_tokens_details.cached_tokens`;
  `completion_tokens` INCLUDES `completion_tokens_details.reasoning_tokens`.
- OpenAI Responses: the same with `input_tokens` / `input_tokens_details.cached_tokens` and
  `output_tokens` / `output_tokens_details.reasoning_tokens`.
- Anthropic Messages: `input_tokens` EXCLUDES `cache_read_input_tokens` and
  `cache_creation_input_tokens`, which are added to get every input token.
An unknown price (or no usage) is a cost of None, shown as "—", never as $0.

The built-in demo provider's models (`demo-*`) are priced with `DEMO_PRICE`, a made-up price
that says so in every cost's basis ("demo pricing, not a real price"), so a first run shows
what costs look like; a `prices` table of the config's own `demo` provider comes first.
"""

from __future__ import annotations

import contextlib
import fnmatch
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from relayscope.analysis import price_list
from relayscope.calls import formatting
from relayscope.config import DEMO_PROVIDER, Config, ModelPrice, Provider

MILLION = Decimal(1_000_000)
UNKNOWN = "—"
#: The demo provider's made-up price per million tokens (no real model costs this).
DEMO_PRICE = ModelPrice("demo-*", input=1.0, output=4.0, cached=0.1, cache_write=1.25)
DEMO_BASIS = "demo pricing, not a real price ($1 per million input tokens, $4 output)"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one call. `input_tokens` counts every input token (cache reads and writes
    included); `output_tokens` counts every output token (reasoning included)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


def _n(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _details(usage: Mapping[str, Any], key: str, field: str) -> int:
    details = usage.get(key)
    return _n(details.get(field)) if isinstance(details, dict) else 0


def usage_from_chat(usage: Mapping[str, Any]) -> TokenUsage:
    """An OpenAI chat completions `usage` object (cached and reasoning are already inside)."""
    return TokenUsage(
        input_tokens=_n(usage.get("prompt_tokens")),
        output_tokens=_n(usage.get("completion_tokens")),
        cache_read_tokens=_details(usage, "prompt_tokens_details", "cached_tokens"),
        reasoning_tokens=_details(usage, "completion_tokens_details", "reasoning_tokens"),
    )


def usage_from_responses(usage: Mapping[str, Any]) -> TokenUsage:
    """An OpenAI Responses `usage` object (cached and reasoning are already inside)."""
    return TokenUsage(
        input_tokens=_n(usage.get("input_tokens")),
        output_tokens=_n(usage.get("output_tokens")),
        cache_read_tokens=_details(usage, "input_tokens_details", "cached_tokens"),
        reasoning_tokens=_details(usage, "output_tokens_details", "reasoning_tokens"),
    )


def usage_from_anthropic(usage: Mapping[str, Any]) -> TokenUsage:
    """An Anthropic Messages `usage` object: its `input_tokens` leaves out cache reads and
    writes, so they are added. Thinking is billed as output and not reported apart."""
    read = _n(usage.get("cache_read_input_tokens"))
    write = _n(usage.get("cache_creation_input_tokens"))
    return TokenUsage(
        input_tokens=_n(usage.get("input_tokens")) + read + write,
        output_tokens=_n(usage.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def usage_from_row(call: Mapping[str, Any]) -> TokenUsage | None:
    """A recorded call's usage columns (chat terms: `prompt_tokens` includes `cached_tokens`
    and `cache_write_tokens`, which Anthropic calls are recorded with), or None when the
    provider reported none."""
    if call.get("prompt_tokens") is None and call.get("completion_tokens") is None:
        return None
    return TokenUsage(
        input_tokens=_n(call.get("prompt_tokens")),
        output_tokens=_n(call.get("completion_tokens")),
        cache_read_tokens=_n(call.get("cached_tokens")),
        cache_write_tokens=_n(call.get("cache_write_tokens")),
        reasoning_tokens=_n(call.get("reasoning_tokens")),
    )


@dataclass(frozen=True, slots=True)
class Cost:
    """What one call cost in USD, or None with the reason it is unknown."""

    usd: Decimal | None
    basis: str  # where the price came from, or why there is none

    @property
    def known(self) -> bool:
        return self.usd is not None

    def text(self) -> str:
        return format_usd(self.usd)

    def as_json(self) -> dict[str, Any]:
        return {"usd": None if self.usd is None else float(self.usd), "basis": self.basis}


def format_usd(usd: Decimal | None) -> str:
    """$1.23, $0.0421, $0.00031; None (unknown) is "—", never $0 (relayscope.calls.formatting)."""
    return formatting.usd(usd)


def price_table_cost(usage: TokenUsage, price: ModelPrice) -> Decimal:
    """A provider's own price table applied to usage (per million tokens)."""
    cached = price.input if price.cached is None else price.cached
    write = price.input if price.cache_write is None else price.cache_write
    total = (
        Decimal(usage.uncached_input_tokens) * Decimal(str(price.input))
        + Decimal(usage.cache_read_tokens) * Decimal(str(cached))
        + Decimal(usage.cache_write_tokens) * Decimal(str(write))
        + Decimal(usage.output_tokens) * Decimal(str(price.output))
    )
    return total / MILLION


def list_price(usage: TokenUsage, model: str, when: datetime | None) -> tuple[Decimal, str] | None:
    """genai-prices' list price for `model` (its provider found from the model's name),
    as (USD, "provider/model"), or None when it knows no price for that model. Read from
    its compact cache (`price_list`) where it can be; genai-prices itself is imported only
    when the cache is missing or stale, or for a model the cache leaves to it."""
    prices = _price_list()
    if prices is not None:
        tokens = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )
        listed = prices.price(tokens, model, when or datetime.now(tz=UTC))
        if not isinstance(listed, price_list.Defer):
            return listed
    return _genai_price(usage, model, when)


def _genai_price(
    usage: TokenUsage, model: str, when: datetime | None
) -> tuple[Decimal, str] | None:
    import genai_prices  # about half a second of CPU to import and load

    usage_data = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    try:
        result = genai_prices.calc_price(usage_data, model, genai_request_timestamp=when)
    except LookupError:
        return None
    return Decimal(result.total_price), f"{result.provider.id}/{result.model.id}"


# The price list is loaded once per process, by the first price asked for or, in the app, on a
# thread of its own (`load_prices_in_background`) so that no paint waits: from the cache in a
# few milliseconds, or (the first run after genai-prices is installed or upgraded) by importing
# genai-prices, which prices calls until the cache it is then used to build is ready.
_loaded = threading.Event()
_loading = threading.Lock()
_started = threading.Lock()
_prices: price_list.PriceList | None = None


def _price_list() -> price_list.PriceList | None:
    """The cached price list, loading it first if need be; None to ask genai-prices."""
    if not _loaded.is_set():
        with _loading:
            if not _loaded.is_set():
                _load()
    return _prices


def _load() -> None:
    """Read the cache; failing that, load genai-prices (prices are then its own, as soon as
    it is in) and build the cache, which later prices use."""
    global _prices
    key = path = None
    try:
        try:
            key = price_list.source_key()
            path = price_list.cache_file()
            _prices = price_list.read_cache(path, key) if key is not None else None
        except Exception:  # no cache to be had here (a home without a cache directory...)
            _prices = None
        if _prices is None:
            _genai_price(TokenUsage(1, 1), "gpt-4o", None)
    finally:
        _loaded.set()
    if _prices is None and key is not None and path is not None:
        _prices = _build_cache(path, key)


def _build_cache(path: Path, key: str) -> price_list.PriceList | None:
    """Build the cache from genai-prices and store it; None (genai-prices is asked for every
    price) when it cannot be built here. Never raises: pricing must not depend on a cache."""
    try:
        from relayscope.analysis import price_list_build

        prices, data = price_list_build.build()
    except Exception:  # a genai-prices this cannot read: it is asked instead
        return None
    with contextlib.suppress(OSError):
        price_list.write_cache(path, key, data)  # a read-only cache directory: next time, again
    return prices


def prices_loaded() -> bool:
    """True once the price list is loaded (a list price is then a quick look-up)."""
    return _loaded.is_set()


def load_prices_in_background() -> None:
    """Start loading the price list on a daemon thread, once."""
    if _loaded.is_set() or not _started.acquire(blocking=False):
        return
    threading.Thread(target=_price_list, name="price list", daemon=True).start()


def _when(started_at: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(started_at))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Pricer:
    """Prices calls with the providers' overrides from the config, else list prices."""

    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._providers = {p.name: p for p in providers}

    @classmethod
    def from_config(cls, config: Config | None) -> Pricer:
        return cls(config.providers if config is not None else ())

    def price(self, call: Mapping[str, Any]) -> Cost:
        usage = usage_from_row(call)
        if usage is None:
            return Cost(None, "no usage recorded")
        return self.price_usage(
            usage,
            model=str(call.get("model") or ""),
            provider=str(call.get("provider") or ""),
            answered_as=str(call.get("response_model") or ""),
            when=_when(call.get("started_at")),
        )

    def price_usage(
        self,
        usage: TokenUsage,
        *,
        model: str,
        provider: str = "",
        answered_as: str = "",
        when: datetime | None = None,
    ) -> Cost:
        if usage.cache_read_tokens + usage.cache_write_tokens > usage.input_tokens:
            # A provider that reports more cached than input tokens: no price is right.
            return Cost(
                None,
                f"usage does not add up ({usage.cache_read_tokens + usage.cache_write_tokens:,}"
                f" cached of {usage.input_tokens:,} input tokens)",
            )
        settings = self._providers.get(provider)
        for name in (model, answered_as):
            if settings is not None and name:
                for own in settings.prices:
                    if fnmatch.fnmatchcase(name, own.pattern):
                        table_cost = price_table_cost(usage, own)
                        return Cost(table_cost, f"{provider} price for {own.pattern}")
        if provider == DEMO_PROVIDER and fnmatch.fnmatchcase(model, DEMO_PRICE.pattern):
            return Cost(price_table_cost(usage, DEMO_PRICE), DEMO_BASIS)
        for name in dict.fromkeys(n for n in (model, answered_as) if n):
            listed = list_price(usage, name, when)
            if listed is None:
                continue
            usd, basis = listed
            multiplier = settings.price_multiplier if settings is not None else None
            if multiplier is not None:
                return Cost(usd * Decimal(str(multiplier)), f"{basis} list price × {multiplier:g}")
            return Cost(usd, f"{basis} list price")
        shown = model or answered_as or "?"
        return Cost(None, f"no price known for model {shown!r}")


_default = Pricer()


def use_config(config: Config | None) -> None:
    """Make `default_pricer()` use this config's price overrides (the app calls it at start
    and after the providers are edited; the CLI passes its Pricer explicitly)."""
    global _default
    _default = Pricer.from_config(config)


def default_pricer() -> Pricer:
    return _default


@dataclass(frozen=True, slots=True)
class CostTotal:
    """A sum of call costs that keeps count of the calls whose cost is unknown."""

    usd: Decimal = Decimal(0)
    priced: int = 0
    unknown: int = 0

    def add(self, cost: Cost) -> CostTotal:
        if cost.usd is None:
            return CostTotal(self.usd, self.priced, self.unknown + 1)
        return CostTotal(self.usd + cost.usd, self.priced + 1, self.unknown)

    def __add__(self, other: CostTotal) -> CostTotal:
        return CostTotal(
            self.usd + other.usd, self.priced + other.priced, self.unknown + other.unknown
        )

    @property
    def known_usd(self) -> Decimal | None:
        """The sum, or None when no call in it has a known cost."""
        return self.usd if self.priced else None

    def text(self) -> str:
        """ "$0.0421", "$0.0421 + 2 unknown", or "—" when nothing is known."""
        if not self.priced:
            return UNKNOWN
        shown = format_usd(self.usd)
        return f"{shown} + {self.unknown} unknown" if self.unknown else shown

    def as_json(self) -> dict[str, Any]:
        usd = self.known_usd
        return {
            "usd": None if usd is None else float(usd),
            "priced_calls": self.priced,
            "unknown_calls": self.unknown,
        }


#: How a ledger groups calls: the key of a call for each grouping.
GROUPINGS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "provider": lambda call: call.get("provider") or "",
    "model": lambda call: call.get("model") or "",
    "day": lambda call: str(call.get("started_at") or "")[:10],
    "session": lambda call: call.get("session_id") or "",
    "turn": lambda call: call.get("turn_id") or "",
}


def ledger(
    calls: Iterable[Mapping[str, Any]], pricer: Pricer, *, by: str
) -> dict[str, tuple[CostTotal, TokenUsage]]:
    """Cost and tokens per provider, model, day (UTC), session or turn, in first-seen order."""
    key_of = GROUPINGS[by]
    totals: dict[str, tuple[CostTotal, TokenUsage]] = {}
    for call in calls:
        key = str(key_of(call))
        total, tokens = totals.get(key, (CostTotal(), TokenUsage()))
        usage = usage_from_row(call) or TokenUsage()
        totals[key] = (total.add(pricer.price(call)), tokens + usage)
    return totals
