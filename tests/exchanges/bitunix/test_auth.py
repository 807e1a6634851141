import pytest

from riskmgr.exchanges.bitunix.auth import Secret, new_nonce, sign, signed_headers, signing_query

COMMON = {"api_key": "bx_key", "secret": "bx_secret", "nonce": "abcdefghijklmnopqrstuvwxyz012345",
          "timestamp_ms": 1700000000000}


def test_official_test_vector_is_reproduced_exactly():
    signature = sign("11111111111111111", "22222222222222222", "33333333333333333", 1747104711262,
                     {"marginCoin": "USDT"}, "")

    assert signature == "40e87256554e263e39201a3979469b7fbb640d1c7c41759abf5c6a18f937f922"


def test_post_vector_signs_the_compact_json_body():
    body = '{"symbol":"BTCUSDT","side":"BUY","orderType":"MARKET","qty":"0.01","tradeSide":"OPEN"}'

    assert sign(query=None, body=body, **COMMON) == "7d0e97ecb987982e146d892b09a2ab0bccb6077c9369e00069afb8ba0edd250d"


def test_get_vector_sorts_query_keys_and_joins_without_separators():
    query = {"symbol": "BTCUSDT", "limit": 10, "skip": 0}

    assert signing_query(query) == "limit10skip0symbolBTCUSDT"
    assert sign(query=query, body="", **COMMON) == "20eeb2e5d634aa88e5279e24c6d5e2a5f9ed19e0989d594f1541a258e148ba83"


def test_signing_query_leaves_out_empty_and_absent_values():
    assert signing_query({"symbol": "BTCUSDT", "orderId": "", "clientId": None}) == "symbolBTCUSDT"


def test_headers_carry_key_nonce_timestamp_and_signature():
    headers = signed_headers(Secret("bx_key"), Secret("bx_secret"), COMMON["nonce"], 1700000000000,
                             {"symbol": "BTCUSDT", "limit": 10, "skip": 0}, "")

    assert headers["api-key"] == "bx_key"
    assert headers["nonce"] == COMMON["nonce"]
    assert headers["timestamp"] == "1700000000000"
    assert headers["sign"] == "20eeb2e5d634aa88e5279e24c6d5e2a5f9ed19e0989d594f1541a258e148ba83"
    assert headers["Content-Type"] == "application/json"


def test_secret_never_shows_in_repr_or_str():
    secret = Secret("PLANTED-SECRET-9f8e7d")

    assert "PLANTED" not in repr(secret)
    assert "PLANTED" not in str(secret)
    assert "PLANTED" not in f"{secret}"
    assert secret.reveal() == "PLANTED-SECRET-9f8e7d"


def test_empty_secret_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        Secret("  ")


def test_nonce_is_32_random_characters():
    first, second = new_nonce(), new_nonce()

    assert len(first) == 32
    assert first != second
