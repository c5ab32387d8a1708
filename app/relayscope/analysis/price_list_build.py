"""Derives `price_list`'s compact cache from the installed genai-prices (imported here only).

Each model's price periods are taken as genai-prices resolves them; for each period, the units
it charges for and their prices come from genai-prices' own functions, and how many of a
call's tokens each unit counts is found by asking genai-prices with a few probe usages (the
count is linear in the four token kinds a call reports). Every period is then checked against
genai-prices' `calc_price` total on usages of every shape (each token kind zero or not, around
each tier's threshold): a model that does not match exactly, to the last digit of the Decimal,
is stored as "ask genai-prices" instead.
"""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

import genai_prices
from genai_prices import types
from genai_prices.data_snapshot import get_snapshot
from genai_prices.units import _get_registry

from relayscope.analysis import price_list
from relayscope.analysis.price_list import PriceList, Tokens, _decode, period_price

_PROBES: tuple[Tokens, ...] = ((0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (1, 0, 1, 0), (1, 0, 0, 1))
_CHECKS: tuple[Tokens, ...] = (
    (0, 0, 0, 0),
    (0, 7, 0, 0),
    (3, 0, 0, 0),
    (1000, 500, 0, 0),
    (1000, 0, 400, 0),
    (1000, 0, 0, 300),
    (1000, 500, 400, 0),
    (1000, 500, 0, 300),
    (1000, 0, 400, 300),
    (1000, 500, 400, 300),
    (123_457, 9_871, 50_001, 2_003),
    (1_000_003, 77_777, 333_333, 111_111),
)


def _usage(tokens: Tokens) -> genai_prices.Usage:
    i, o, cr, cw = tokens
    return genai_prices.Usage(
        input_tokens=i, output_tokens=o, cache_read_tokens=cr, cache_write_tokens=cw
    )


def _clause(clause: Any) -> list[Any]:
    kinds = {
        types.ClauseEquals: ("eq", "equals"),
        types.ClauseStartsWith: ("sw", "starts_with"),
        types.ClauseEndsWith: ("ew", "ends_with"),
        types.ClauseContains: ("in", "contains"),
        types.ClauseRegex: ("re", "regex"),
    }
    if isinstance(clause, types.ClauseOr):
        return ["or", [_clause(sub) for sub in clause.or_]]
    if isinstance(clause, types.ClauseAnd):
        return ["and", [_clause(sub) for sub in clause.and_]]
    kind, field = kinds[type(clause)]
    value = getattr(clause, field)
    if not isinstance(value, str):
        raise TypeError(value)
    return [kind, value]


_FAILURES = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, UserWarning)


def _counts(resolved: Any) -> list[list[int]]:
    """For each unit of a price's shape (its units, in order), the coefficients of its count,
    found with the probe usages and checked on every usage of `_CHECKS`."""
    units = [unit.usage_key for unit, _ in resolved]
    probed = [types._compute_registry_priced_counts(resolved, _usage(p)) for p in _PROBES]
    coefficients: list[list[int]] = []
    for key in units:
        values = [c[key] for c in probed]
        if not all(type(c) is int for c in values):
            raise TypeError(key)
        c0, ci, co, cr, cw = (int(c) for c in values)
        coefficients.append([c0, ci - c0, co - c0, cr - ci, cw - ci])
    for tokens in _CHECKS:
        counts = types._compute_registry_priced_counts(resolved, _usage(tokens))
        for key, k in zip(units, coefficients, strict=True):
            i, o, r, w = tokens
            expected = k[0] + k[1] * i + k[2] * o + k[3] * r + k[4] * w
            if type(counts[key]) is not int or counts[key] != expected:
                raise ValueError(f"{key} {tokens}: {counts[key]} != {expected}")
    return coefficients


def _terms(model_price: types.ModelPrice, memo: dict[str, Any]) -> list[Any]:
    """The period's units as stored terms (raises where it is not reproducible)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unknown price key: left to genai-prices
        resolved = types._collect_resolved_model_prices(model_price, _get_registry())
    # The counts depend on the units only: each shape is probed and checked once.
    shape = "shape " + repr([(unit.usage_key, type(price).__name__) for unit, price in resolved])
    if shape not in memo:
        try:
            memo[shape] = _counts(resolved)
        except _FAILURES as exc:
            memo[shape] = exc
    coefficients = memo[shape]
    if isinstance(coefficients, Exception):
        raise coefficients
    terms: list[Any] = []
    for (unit, price), k in zip(resolved, coefficients, strict=True):
        if isinstance(price, types.TieredPrices):
            tiers = [[tier.start, str(tier.price)] for tier in price.tiers]
            terms.append([str(price.base), tiers, unit.per, k])
        else:
            terms.append([str(price), None, unit.per, k])
    return terms


def _checks(model_price: types.ModelPrice) -> list[Tokens]:
    """Usages to check a price's total on (its shape's counts were checked on `_CHECKS`)."""
    checks: list[Tokens] = [(1000, 500, 400, 300), (1_000_003, 77_777, 333_333, 1)]
    for value in vars(model_price).values():
        if isinstance(value, types.TieredPrices):
            for tier in value.tiers:
                checks += [
                    (tier.start, 5, 0, 0),
                    (tier.start + 1, 5, 1, 0),
                    (tier.start + 2, 0, 0, 1),
                ]
    return checks


def _checked_terms(model_price: types.ModelPrice, memo: dict[str, Any]) -> list[Any]:
    """The period's terms, checked against genai-prices' total on every usage of `_checks`."""
    terms = _terms(model_price, memo)
    decoded = tuple(price_list._term(term) for term in terms)
    for tokens in _checks(model_price):
        expected = model_price.calc_price(_usage(tokens))["total_price"]
        got = period_price(decoded, tokens)
        if got != expected or got.as_tuple() != expected.as_tuple():
            raise ValueError(f"{tokens}: {got} != {expected}")
    return terms


def _period(constraint: Any, model_price: types.ModelPrice, memo: dict[str, Any]) -> list[Any]:
    # Many models share their prices: each distinct price (in its key order) is checked once.
    same = "price " + repr(list(vars(model_price).items()))
    if same not in memo:
        try:
            memo[same] = _checked_terms(model_price, memo)
        except _FAILURES as exc:
            memo[same] = exc
    terms = memo[same]
    if isinstance(terms, Exception):
        raise terms
    table: list[Any] = memo.setdefault("table", [])
    index: int = memo.setdefault("index " + same, len(table))
    if index == len(table):
        table.append(terms)
    if constraint is None:
        return [None, None, index]
    if isinstance(constraint, types.StartDateConstraint) and type(constraint.start_date) is date:
        return [constraint.start_date.isoformat(), None, index]
    if isinstance(constraint, types.TimeOfDateConstraint):
        begin, end = (types._utc_timetz(t) for t in (constraint.start_time, constraint.end_time))
        daily = [begin.replace(tzinfo=None).isoformat(), end.replace(tzinfo=None).isoformat()]
        return [None, daily, index]
    raise TypeError(constraint)


def _periods(model: types.ModelInfo, memo: dict[str, Any]) -> list[Any] | None:
    """The model's price periods, or None (ask genai-prices) where any is not reproducible."""
    prices = model.prices
    try:
        if isinstance(prices, types.ModelPrice):
            return [_period(None, prices, memo)]
        if not prices:
            return None
        return [_period(c.constraint, c.prices, memo) for c in prices]
    except _FAILURES:
        return None


def encode() -> dict[str, Any]:
    """genai-prices' bundled list, as `price_list` stores it (never an auto-updated one)."""
    snapshot = get_snapshot()
    if snapshot.from_auto_update:
        raise ValueError("genai-prices holds an auto-updated snapshot")
    providers = []
    memo: dict[str, Any] = {}
    for provider in snapshot.providers:
        match = None if provider.model_match is None else _clause(provider.model_match)
        models = [[m.id, _clause(m.match), _periods(m, memo)] for m in provider.models]
        providers.append([provider.id, match, provider.fallback_model_providers or [], models])
    return {"providers": providers, "terms": memo.get("table", [])}


def build() -> tuple[PriceList, dict[str, Any]]:
    """The price list, and what to store (decoded the way a read from the cache is)."""
    data = encode()
    return _decode(data), data
