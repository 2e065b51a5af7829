"""Fixtures of the outbound tests: see tests/delivery/harness.py and fixtures.py."""

from tests.delivery.fixtures import api, control, sandbox

__all__ = ["api", "control", "sandbox"]
