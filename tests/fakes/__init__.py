"""Fakes for end-to-end, reliability and benchmark tests (see :mod:`tests.fakes.provider`)."""

from tests.fakes.provider import ERRORS, SCENARIOS, FakeProvider, ReceivedRequest

__all__ = ["ERRORS", "SCENARIOS", "FakeProvider", "ReceivedRequest"]
