"""The Backtests page and its JSON API (thin views over ``BacktestService``)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from riskmgr.app.runtime import current_runtime
from riskmgr.backtest import data as data_mod
from riskmgr.backtest import engine, reference
from riskmgr.backtest.csvdata import parse_csv
from riskmgr.backtest.params import ENTRY_ORDERS, REARM, STRATEGIES, signal_dict
from riskmgr.backtest.presets import builtin_presets, defaults
from riskmgr.backtest.report import equity_csv, public, trades_csv, trades_page
from riskmgr.backtest.runs import DONE, datasets, save_dataset
from riskmgr.backtest.service import BacktestService
from riskmgr.core.clock import from_ms
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import NAME_MAX, SYMBOL_MAX, json_object, only_keys, opt_int, opt_str, req_str
from riskmgr.market.base import TIMEFRAME_SECONDS
from riskmgr.risk.config import field_table
from riskmgr.signals.params import SignalParams
from riskmgr.web.errors import large_body

bp = Blueprint("backtest", __name__)
NAV = (("backtest.page", "Backtests"),)
PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,39}$")
PRESET_FIELDS = frozenset({"name", "description", "params", "base"})
DESCRIPTION_MAX = 200
DATASET_NAME_MAX = 120
DATASET_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/:._\-]*$")
TRADES_PAGE = 200


def _service() -> BacktestService:
    return current_runtime().feature(BacktestService)


def _actor() -> str:
    return getattr(g, "actor", "operator")


@bp.get("/backtests")
def page() -> ResponseReturnValue:
    return render_template("backtests.html", engine_doc=engine.__doc__, reference_doc=reference.__doc__)


@bp.get("/api/backtests/options")
def options() -> ResponseReturnValue:
    runtime = current_runtime()
    sources = data_mod.sources(runtime)
    return jsonify(
        defaults=defaults(runtime),
        presets=_presets(),
        sources=sources,
        # an exchange's symbols need a network call: the page asks for them when that source is chosen
        symbols={s: data_mod.symbols(runtime, s) for s in sources if s in (data_mod.SIMULATED, data_mod.CSV)},
        timeframes=list(TIMEFRAME_SECONDS),
        strategies=list(STRATEGIES), entry_orders=list(ENTRY_ORDERS), rearm=list(REARM),
        limit_fields=field_table(),
        signal_defaults=signal_dict(SignalParams()),
        datasets=[_dataset_view(d) for d in datasets(runtime)],
        now=runtime.clock.now().isoformat(),
    )


@bp.get("/api/backtests/symbols")
def source_symbols() -> ResponseReturnValue:
    runtime = current_runtime()
    source = req_str(request.args, "source", data_mod.sources(runtime))
    return jsonify(source=source, symbols=data_mod.symbols(runtime, source))


@bp.post("/api/backtests")
def start() -> ResponseReturnValue:
    run_id = _service().submit(json_object(request), _actor())
    row = _service().runs.get(run_id)
    return jsonify(id=run_id, status=row.status, progress=row.progress, url=f"/api/backtests/{run_id}"), 202


@bp.get("/api/backtests")
def runs() -> ResponseReturnValue:
    limit = opt_int(request.args, "limit", 1, 500) or 100
    return jsonify(runs=[_run_head(r) for r in _service().runs.recent(limit)])


@bp.get("/api/backtests/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    row = _service().runs.get(run_id)
    view = _run_head(row) | {"params": row.params, "error": row.error}
    if row.status == DONE and row.result is not None:
        offset = opt_int(request.args, "trades_offset", 0, 10**9) or 0
        limit = opt_int(request.args, "trades_limit", 0, 10000)
        result = {k: v for k, v in public(row.result).items() if k != "trades"}
        result["trades"] = trades_page(row.result, offset, TRADES_PAGE if limit is None else limit)
        view["result"] = result
    return jsonify(view)


@bp.delete("/api/backtests/<int:run_id>")
def delete_run(run_id: int) -> ResponseReturnValue:
    _service().runs.delete(run_id)
    return jsonify(deleted=run_id)


@bp.get("/api/backtests/<int:run_id>/export.csv")
def export_csv(run_id: int) -> ResponseReturnValue:
    row = _finished(run_id)
    what = req_str({"what": request.args.get("what", "trades")}, "what", ["trades", "equity"])
    body = trades_csv(row.result) if what == "trades" else equity_csv(row.result)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="backtest-{run_id}-{what}.csv"'})


@bp.get("/api/backtests/<int:run_id>/export.json")
def export_json(run_id: int) -> ResponseReturnValue:
    row = _finished(run_id)
    response = jsonify(_run_head(row) | {"params": row.params, "result": public(row.result)})
    response.headers["Content-Disposition"] = f'attachment; filename="backtest-{run_id}.json"'
    return response


@bp.get("/api/backtests/presets")
def presets() -> ResponseReturnValue:
    return jsonify(presets=_presets())


@bp.post("/api/backtests/presets")
def save_preset() -> ResponseReturnValue:
    body = json_object(request)
    only_keys(body, PRESET_FIELDS, "a field of a preset")
    name = req_str(body, "name", max_len=NAME_MAX)
    if not PRESET_NAME.match(name):
        raise ValidationError("name", "use 1-40 letters, digits, spaces, '.', '_' or '-', starting with a letter or "
                                      "digit")
    service = _service()
    if service.is_builtin(name):
        raise ValidationError("name", f"{name!r} is a built-in preset; choose another name")
    settings = body.get("params")
    if not isinstance(settings, dict):
        raise ValidationError("params", "must be an object of backtest settings")
    settings = {k: v for k, v in settings.items() if k not in ("preset", "start", "end", "dataset_id")}
    base = opt_str(body, "base", max_len=NAME_MAX)
    service.resolve(settings | {"preset": base})  # saved only if it makes a valid run
    description = opt_str(body, "description", max_len=DESCRIPTION_MAX) or ""
    created = service.presets.save(name, description, settings, _actor())
    return jsonify(name=name, created=created), 201 if created else 200


@bp.delete("/api/backtests/presets/<name>")
def delete_preset(name: str) -> ResponseReturnValue:
    _service().presets.delete(req_str({"name": name}, "name", max_len=NAME_MAX))
    return jsonify(deleted=name)


@bp.get("/api/backtests/datasets")
def list_datasets() -> ResponseReturnValue:
    return jsonify(datasets=[_dataset_view(d) for d in datasets(current_runtime())])


@bp.post("/api/backtests/datasets")
@large_body
def upload_dataset() -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("file", "choose a CSV file to upload")
    symbol = req_str(request.form, "symbol", max_len=SYMBOL_MAX)
    if not DATASET_SYMBOL.match(symbol):
        raise ValidationError("symbol", "use letters, digits, '/', ':', '.', '_' or '-' (e.g. BTC/USDT:USDT)")
    timeframe = req_str(request.form, "timeframe", list(TIMEFRAME_SECONDS))
    name = (opt_str(request.form, "name", max_len=DATASET_NAME_MAX)
            or req_str({"name": upload.filename[:DATASET_NAME_MAX]}, "name", max_len=DATASET_NAME_MAX))
    raw = upload.read(current_runtime().settings.max_upload_bytes + 1)
    parsed = parse_csv(raw, timeframe, max_bytes=current_runtime().settings.max_upload_bytes)
    row = save_dataset(current_runtime(), name=name, symbol=symbol, timeframe=timeframe, parsed=parsed,
                       digest=hashlib.sha256(raw).hexdigest(), actor=_actor())
    return jsonify(_dataset_view(row)), 201


# -- views -----------------------------------------------------------------------------------------------------


def _finished(run_id: int) -> Any:
    row = _service().runs.get(run_id)
    if row.status != DONE or row.result is None:
        raise ValidationError("id", f"run #{run_id} is {row.status}; only a finished run can be exported")
    return row


def _run_head(row: Any) -> dict[str, Any]:
    p = row.params
    return {
        "id": row.id, "created_at": row.created_at.isoformat(), "actor": row.actor, "preset": row.preset,
        "status": row.status, "progress": row.progress, "stage": row.stage,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "strategy": p.get("strategy"), "source": p.get("source"), "symbol": p.get("symbol"),
        "timeframe": p.get("timeframe"), "start": p.get("start"), "end": p.get("end"), "summary": row.summary,
        "error": row.error,
    }


def _presets() -> list[dict[str, Any]]:
    runtime = current_runtime()
    out = [{"name": p.name, "label": p.label, "description": p.description, "builtin": True, "params": p.params}
           for p in builtin_presets(runtime)]
    out += [{"name": p.name, "label": p.name, "description": p.description, "builtin": False, "params": p.params}
            for p in _service().presets.all()]
    return out


def _dataset_view(row: Any) -> dict[str, Any]:
    bar_ms = TIMEFRAME_SECONDS[row.timeframe] * 1000
    return {
        "id": row.id, "name": row.name, "symbol": row.symbol, "timeframe": row.timeframe, "bars": row.bars,
        "first": from_ms(row.first_ms).isoformat(), "last_close": from_ms(row.last_ms + bar_ms).isoformat(),
        "gaps": row.gaps, "created_at": row.created_at.isoformat(),
    }
