"""Bitunix: after an add, the one position TP/SL is amended in place (it closes the whole position when it fires)."""

from decimal import Decimal

from riskmgr.core.domain import PositionSide
from tests.exchanges.bitunix.conftest import ok, reply, sent_json

V1 = "https://fapi.bitunix.com/api/v1/futures"
BTC = "BTC/USDT:USDT"


def _calls_to(api, url: str) -> list:
    return [call for call in api.calls if call.request.url.split("?")[0] == url]


def test_replace_with_a_position_tpsl_resting_then_modified_in_place_and_nothing_cancelled(api, adapter):
    existing = {"id": "900", "positionId": "12345678", "symbol": "BTCUSDT", "slPrice": "56000",
                "slStopType": "MARK_PRICE", "tpPrice": "66000", "tpStopType": "MARK_PRICE",
                "tpQty": None, "slQty": None}
    api.get(f"{V1}/position/get_pending_positions", json=reply("positions_documented"))
    api.get(f"{V1}/tpsl/get_pending_orders", json=ok([existing]))
    api.post(f"{V1}/tpsl/position/modify_order", json=ok({"orderId": "900"}))

    stop, target = adapter.replace_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal("57000"),
                                                       take_profit=Decimal("65000"), client_id="rm-add-1")

    assert sent_json(_calls_to(api, f"{V1}/tpsl/position/modify_order")[0]) == {
        "symbol": "BTCUSDT", "positionId": "12345678", "slPrice": "57000", "slStopType": "MARK_PRICE",
        "tpPrice": "65000", "tpStopType": "MARK_PRICE"}
    assert not _calls_to(api, f"{V1}/tpsl/cancel_order") and not _calls_to(api, f"{V1}/trade/flash_close_position")
    assert (stop.id, stop.close_position, target.id) == ("900:sl", True, "900:tp")


def test_replace_without_a_position_tpsl_then_one_is_placed(api, adapter):
    api.get(f"{V1}/position/get_pending_positions", json=reply("positions_documented"))
    api.get(f"{V1}/tpsl/get_pending_orders", json=ok([]))
    api.post(f"{V1}/tpsl/position/place_order", json=ok({"orderId": "555"}))

    [stop] = adapter.replace_position_protection(BTC, PositionSide.LONG, stop_loss=Decimal("57000"),
                                                 take_profit=None)

    assert stop.id == "555:sl" and len(_calls_to(api, f"{V1}/tpsl/position/place_order")) == 1
