"""Fixtures shared with the feature tests: the journal's app on a fake market (tests/journal/conftest.py), for
test_journal.py."""

from tests.journal.conftest import jrt, market  # noqa: F401  # fixtures, found by pytest by name
