"""Shared pytest fixtures. Keep this file small: fixtures live in their own modules."""

from tests.netlab import netlab  # noqa: F401  (network-namespace lab factory, see tests/netlab.py)
