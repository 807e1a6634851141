"""Bitunix USDT-M futures: hand-written signed REST client (client.py) and the riskmgr adapter (adapter.py)."""

from riskmgr.exchanges.bitunix.adapter import BitunixAdapter, PartialCancelError
from riskmgr.exchanges.bitunix.client import BatchFailure, BatchResult, BitunixClient

__all__ = ["BatchFailure", "BatchResult", "BitunixAdapter", "BitunixClient", "PartialCancelError"]
