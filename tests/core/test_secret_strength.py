"""A weak API token or admin password stops the app at start, naming the variable and how to make a good one."""

from __future__ import annotations

import secrets

import pytest

from riskmgr.app.config import Settings
from riskmgr.core.errors import ConfigError
from riskmgr.core.secret_strength import PASSWORD_MIN_BITS, TOKEN_MIN_BITS, estimate_bits
from tests.conftest import ADMIN_PASSWORD, API_TOKEN

WEAK_TOKENS = [
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "abcabcabcabcabcabcabcabcabcabc",
    "Xy7!Xy7!Xy7!Xy7!Xy7!Xy7!Xy7!",
    "test-token-0123456789abcdefghijklmnop",
    "passwordpasswordpassword123",
    "qwertyuiopasdfghjkl1234567890",
    "riskmgr-api-token-secret-2024",
    "correct horse battery staple",  # fine as a password, far too little for a token
]
WEAK_PASSWORDS = ["password", "Passw0rd!", "aaaaaaaaaaaaaaaaaaaa", "letmein123", "a-test-password", "qwerty123456",
                  "maple orbit kettle", "1234567890123456"]


@pytest.mark.parametrize("token", WEAK_TOKENS)
def test_a_weak_api_token_is_refused_at_start_naming_the_variable_not_the_value(token):
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"RISKMGR_API_TOKEN": token})
    message = str(exc.value)
    assert "RISKMGR_API_TOKEN" in message
    assert "secrets.token_urlsafe(32)" in message
    assert token not in message


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
def test_a_weak_admin_password_is_refused_at_start_naming_the_variable_not_the_value(password):
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"RISKMGR_ADMIN_PASSWORD": password})
    message = str(exc.value)
    assert "RISKMGR_ADMIN_PASSWORD" in message
    assert "random words" in message and "secrets.token_urlsafe(32)" in message
    assert password not in message


@pytest.mark.parametrize("token", [
    secrets.token_urlsafe(32), secrets.token_hex(32), secrets.token_hex(20), API_TOKEN,
    "kV3q9Zr-T2wXb8LmN4pYc7HdJ6sFa1Ue",
])
def test_a_random_api_token_is_accepted(token):
    assert Settings.from_env({"RISKMGR_API_TOKEN": token}).api_token == token


@pytest.mark.parametrize("password", [
    ADMIN_PASSWORD, "orbit maple kettle zebra", "Quiver-Lantern-Mosaic-Tundra", "g7#Kp2!vQz9@Lm4w",
    secrets.token_urlsafe(12),
])
def test_passphrases_of_four_random_words_and_random_passwords_are_accepted(password):
    assert Settings.from_env({"RISKMGR_ADMIN_PASSWORD": password}).admin_password == password


def test_random_secrets_pass_by_a_wide_margin_every_time():
    assert min(estimate_bits(secrets.token_urlsafe(32)) for _ in range(300)) > TOKEN_MIN_BITS * 1.4
    assert min(estimate_bits(secrets.token_urlsafe(18)) for _ in range(300)) > PASSWORD_MIN_BITS * 1.4


def test_the_password_the_app_generates_passes_the_same_check():
    from riskmgr.web.auth import _generated_password

    for _ in range(50):
        password = _generated_password()
        assert Settings.from_env({"RISKMGR_ADMIN_PASSWORD": password}).admin_password == password


def test_repeats_runs_and_common_words_count_for_little():
    assert estimate_bits("a" * 100) < 20
    assert estimate_bits("0123456789" * 3) < 20
    assert estimate_bits("password") < 12
    assert estimate_bits("P@ssw0rd") < 16


def test_a_very_long_secret_is_scored_quickly():
    import time

    started = time.monotonic()
    estimate_bits("ab" * 50_000)
    estimate_bits(secrets.token_urlsafe(10_000))
    assert time.monotonic() - started < 2
