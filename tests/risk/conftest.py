"""Fixtures of the risk tests: the app's runtime on the recording venue a test module provides as ``venue``."""

from __future__ import annotations

import pytest

from tests.support.apps import runtime_on


@pytest.fixture
def rt(tmp_path, clock, venue):
    """The app's runtime with the module's ``venue`` as its one account, "acct" (a module may define its own)."""
    with runtime_on(tmp_path, clock, adapters={"acct": venue}) as runtime:
        yield runtime
