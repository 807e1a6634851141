"""Prometheus ``/metrics`` (token or session, like every route), read from the registry ``riskmgr.metrics``
builds. Registering this blueprint also gives every web request of the app its request id."""

from __future__ import annotations

from flask import Blueprint, Response, request
from prometheus_client.exposition import choose_encoder

from riskmgr.app.logging_setup import init_request_ids
from riskmgr.app.runtime import current_runtime
from riskmgr.metrics.prometheus import MetricsFeature

bp = Blueprint("metrics", __name__)
bp.record_once(lambda state: init_request_ids(state.app))  # request ids on every web request of the app


@bp.get("/metrics")
def metrics():
    """Answer in the format the scraper asks for (Prometheus text by default, OpenMetrics on request)."""
    registry = current_runtime().feature(MetricsFeature).registry
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})
