"""genai-prices' list prices in a compact cache, so that pricing a call needs no import of it.

Importing genai-prices and loading its data costs about half a second of CPU (pydantic, its
type adapters, an HTTP client for its optional updates, 1.6 MB of data as Python code), and
the thread that does it holds the interpreter lock now and then, slowing the window's first
sort. What a list price needs from it is small: each provider's and model's name-matching
clauses, each model's price periods, and for each period the price of every unit it charges
for, with how many of the call's tokens fall in that unit. That is derived once from the
installed genai-prices, with its own functions, checked against its own `calc_price` results,
and stored as JSON in the user's cache directory; later starts read it in milliseconds.

The cache is keyed by genai-prices' version and a hash of its code and data: an upgrade
rebuilds it. A cache file that is missing, stale, truncated, altered or otherwise unreadable
is ignored (the caller then prices with genai-prices itself) and written again, atomically.
A model whose prices this cannot reproduce exactly is stored as "ask genai-prices" (`DEFER`).
The file's hash catches corruption, not forgery: whoever can write the user's cache directory
could as well edit the installed genai-prices. A crafted file is still checked where it is
used (a malformed clause, period or price makes that call ask genai-prices, never raise);
its prices and regular expressions are trusted as the user's own files are.
The lookup reproduces genai-prices' own: provider found from the model's name (its
`model_match`), model matched in that provider then its fallback providers, a compact date
suffix (`-20251211`) retried as `-2025-12-11`, the last price period active at the call's
time (a start date, or a daily time window), tiered prices by the call's input tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

#: Bumped whenever what is stored, or how price_list_build computes it, changes.
FORMAT: Final = 1
MAGIC: Final = "relayscope-price-list"
#: A file bigger than this is not read (the real one is about 0.4 MB).
MAX_BYTES: Final = 32 * 1024 * 1024
#: The files of genai-prices whose content decides prices (code and data).
_SOURCES: Final = (
    "__init__.py",
    "data.py",
    "data_snapshot.py",
    "data_units.py",
    "decompose.py",
    "types.py",
    "units.py",
    "validation.py",
    "_usage.py",
)


class Defer:
    """The price of this model is genai-prices' to compute (see the module's docstring)."""


DEFER: Final = Defer()

# A matching clause, as stored: ["eq"|"sw"|"ew"|"in"|"re", text] or ["or"|"and", [clauses]].
Clause = list[Any]
# Tokens: (input, output, cache read, cache write), as genai_prices.Usage gets them.
Tokens = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Term:
    """One unit a price period charges for: its price per `per` units (or tiers by input
    tokens, ascending), and its count as `k[0] + k[1]*input + k[2]*output + k[3]*cache
    read + k[4]*cache write`."""

    price: Decimal
    tiers: tuple[tuple[int, Decimal], ...] | None
    per: int
    k: tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Period:
    """Prices from a date on (`start`), or daily between two UTC times (`daily`), or always."""

    start: date | None
    daily: tuple[time, time] | None
    terms: tuple[Term, ...]

    def active(self, when: datetime) -> bool:
        if self.start is not None:
            if when.tzinfo is not None:
                when = when.astimezone(UTC)
            return when.date() >= self.start
        if self.daily is not None:
            at = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(UTC)
            now, (begin, end) = at.time(), self.daily
            if end < begin:
                return now >= begin or now < end
            return begin <= now < end
        return True


def is_match(clause: Clause, text: str) -> bool:
    """genai-prices' clauses (ClauseEquals, ...), which lower-case both sides except a regex."""
    kind, arg = clause
    if kind == "eq":
        return bool(text.lower() == arg.lower())
    if kind == "sw":
        return text.lower().startswith(arg.lower())
    if kind == "ew":
        return text.lower().endswith(arg.lower())
    if kind == "in":
        return bool(arg.lower() in text.lower())
    if kind == "re":
        return bool(re.search(arg, text))
    if kind == "or":
        return any(is_match(sub, text) for sub in arg)
    if kind == "and":
        return all(is_match(sub, text) for sub in arg)
    raise ValueError(kind)


_COMPACT_DATE_RE = re.compile(r"(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)")


def _normalize_compact_dated_ref(model_ref: str) -> str:
    """`gpt-5.2-20251211` as `gpt-5.2-2025-12-11` (genai-prices' fallback for such refs)."""

    def replace(match: re.Match[str]) -> str:
        year, month, day = (int(match.group(index)) for index in range(2, 5))
        try:
            date(year, month, day)
        except ValueError:
            return match.group(0)
        return f"{match.group(1)}{year:04d}-{month:02d}-{day:02d}"

    return _COMPACT_DATE_RE.sub(replace, model_ref)


class PriceList:
    """The list prices of the providers, in genai-prices' order, with genai-prices' look-up.

    Held as read from the cache: providers `[id, match clause or None, [fallback provider
    ids], [[model id, match clause, [[start date, [daily start, end], terms index], ...] or
    None], ...]]`, and `terms`, the distinct price periods' terms, decoded when first used.
    Whatever in it is malformed makes the call it concerns DEFER (genai-prices is asked)."""

    def __init__(self, providers: list[Any], terms: list[Any]) -> None:
        if not isinstance(providers, list) or not isinstance(terms, list):
            raise TypeError("not a price list")
        self._providers = providers
        self._terms = terms
        self._decoded: dict[int, tuple[Term, ...]] = {}
        self._periods: dict[int, tuple[Period, ...] | Defer] = {}
        self._found: dict[str, tuple[list[Any], list[Any]] | None] = {}

    def find(self, model_ref: str) -> tuple[list[Any], list[Any]] | None:
        """The provider and model genai-prices' `calc_price` picks for this name, or None
        where it raises LookupError."""
        ref = model_ref.lower()
        if ref in self._found:
            return self._found[ref]
        found = None
        provider = next(
            (p for p in self._providers if p[1] is not None and is_match(p[1], ref)), None
        )
        if provider is not None:
            model = self._find_model(provider, ref)
            found = None if model is None else (provider, model)
        self._found[ref] = found
        return found

    def _find_model(self, provider: list[Any], ref: str) -> list[Any] | None:
        ref = ref.lower()
        if model := self._match_model(provider, ref, fall_back=True):
            return model
        normalized = _normalize_compact_dated_ref(ref)
        if normalized != ref:
            return self._match_model(provider, normalized, fall_back=True)
        return None

    def _match_model(self, provider: list[Any], ref: str, *, fall_back: bool) -> list[Any] | None:
        for model in provider[3]:
            if is_match(model[1], ref.lower()):
                return model  # type: ignore[no-any-return]
        if fall_back:
            for provider_id in provider[2]:
                other = next((p for p in self._providers if p[0] == provider_id), None)
                if other is not None and (model := self._match_model(other, ref, fall_back=False)):
                    return model
        return None

    def price(
        self, tokens: Tokens, model_ref: str, when: datetime
    ) -> tuple[Decimal, str] | Defer | None:
        """(USD, "provider/model") as genai-prices computes it, None where it knows no price
        for this name, DEFER where genai-prices must be asked."""
        try:
            found = self.find(model_ref)
            if found is None:
                return None
            provider, model = found
            periods = self._model_periods(model)
            if isinstance(periods, Defer):
                return DEFER
            period = periods[0]
            for candidate in reversed(periods):
                if candidate.active(when):
                    period = candidate
                    break
            basis = f"{provider[0]}/{model[0]}"
            if not isinstance(provider[0], str) or not isinstance(model[0], str):
                raise TypeError(basis)
            return period_price(period.terms, tokens), basis
        except Exception:  # a malformed cache never crashes nor misprices
            return DEFER

    def _model_periods(self, model: list[Any]) -> tuple[Period, ...] | Defer:
        key = id(model)
        if key not in self._periods:
            raw = model[2]
            periods = DEFER if raw is None else tuple(self._period(p) for p in raw)
            if not periods:
                raise ValueError("a model without prices")
            self._periods[key] = periods
        return self._periods[key]

    def _period(self, raw: Any) -> Period:
        start, daily, index = raw
        if type(index) is not int or index < 0:
            raise TypeError(index)
        if index not in self._decoded:
            self._decoded[index] = tuple(_term(t) for t in self._terms[index])
        return Period(
            None if start is None else date.fromisoformat(start),
            None if daily is None else (time.fromisoformat(daily[0]), time.fromisoformat(daily[1])),
            self._decoded[index],
        )


def period_price(terms: tuple[Term, ...], tokens: Tokens) -> Decimal:
    """genai-prices' ModelPrice.calc_price total, term by term in its order."""
    inputs, outputs, read, write = tokens
    tier_input = inputs if any(term.tiers is not None for term in terms) else 0
    total = Decimal(0)
    for term in terms:
        k = term.k
        count = k[0] + k[1] * inputs + k[2] * outputs + k[3] * read + k[4] * write
        price = term.price
        if term.tiers is not None:
            for start, tier_price in reversed(term.tiers):
                if tier_input > start:
                    price = tier_price
                    break
        total += price * Decimal(count) / term.per
    return total


# --- the cache file: where, its key, reading it back ----------------------------------------


def cache_file() -> Path:
    import platformdirs

    from relayscope.config.schema import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME)) / "genai-prices.json"


def source_key() -> str | None:
    """What the cache is valid for: our format, genai-prices' version and the hash of its
    files (found without importing it), or None when it is not installed where expected.
    In the packaged app (PyInstaller), whose modules are inside the executable, the hash is
    the executable's."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256(f"{MAGIC} {FORMAT}\n".encode())
    try:
        if getattr(sys, "frozen", False):
            digest.update(b"frozen\0" + Path(sys.executable).read_bytes())
        else:
            for name in _SOURCES:
                digest.update(name.encode() + b"\0" + (package / name).read_bytes() + b"\0")
    except OSError:
        return None
    versions = sorted(p.name for p in package.parent.glob("genai_prices-*.dist-info"))
    version = (
        versions[0].removeprefix("genai_prices-").removesuffix(".dist-info") if versions else "?"
    )
    return f"{version}:{digest.hexdigest()}"


def read_cache(path: Path, key: str) -> PriceList | None:
    """The price list stored at `path` for `key`, or None when it is missing, for another
    key, or not exactly what was written (its hash, then every field, is checked)."""
    try:
        with path.open("rb") as file:
            head = file.readline(512)
            body = file.read(MAX_BYTES + 1)
    except OSError:
        return None
    try:
        magic, fmt, stored_key, body_hash = head.decode("ascii").split()
    except (UnicodeDecodeError, ValueError):
        return None
    if (magic, fmt, stored_key) != (MAGIC, str(FORMAT), key) or len(body) > MAX_BYTES:
        return None
    if hashlib.sha256(body).hexdigest() != body_hash:
        return None
    try:
        return _decode(json.loads(body))
    except (ValueError, TypeError, KeyError, RecursionError):
        return None  # ValueError includes JSON's


def write_cache(path: Path, key: str, data: Any) -> None:
    """Store the encoded list atomically (a temporary file renamed over it): a reader sees
    the old file or the new one, never half of one."""
    body = json.dumps(data, separators=(",", ":")).encode()
    head = f"{MAGIC} {FORMAT} {key} {hashlib.sha256(body).hexdigest()}\n".encode("ascii")
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".genai-prices-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(head + body)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _decimal(raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise TypeError(raw)
    value = Decimal(raw)
    if not value.is_finite() or value < 0:
        raise ValueError(raw)
    return value


def _int(raw: Any) -> int:
    if type(raw) is not int:
        raise TypeError(raw)
    return raw


def _term(raw: Any) -> Term:
    price, tiers, per, k = raw
    if _int(per) <= 0 or len(k) != 5:
        raise ValueError(per)
    coefficients = tuple(_int(c) for c in k)
    return Term(
        _decimal(price),
        None if tiers is None else tuple((_int(s), _decimal(p)) for s, p in tiers),
        per,
        (coefficients[0], coefficients[1], coefficients[2], coefficients[3], coefficients[4]),
    )


def _decode(raw: Any) -> PriceList:
    return PriceList(raw["providers"], raw["terms"])
