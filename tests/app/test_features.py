"""The app is assembled from typed features: each declares its hooks as a ``Feature``; the composition root reads
those declarations (never module attributes), checks them at start-up and wires what they contribute."""

from __future__ import annotations

import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.watchdog import ProtectionWatchdog
from riskmgr.alerts.feature import AlertsFeature
from riskmgr.app import features
from riskmgr.app.config import Settings
from riskmgr.app.features import FEATURES, InvalidFeatureError, check
from riskmgr.backtest.service import BacktestService
from riskmgr.candles.store import CandleStore
from riskmgr.controls.positions import PositionControls
from riskmgr.controls.service import switches
from riskmgr.controls.switches import AccountSwitches
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, TradingState, Verdict
from riskmgr.core.errors import ValidationError
from riskmgr.core.feature import Feature, FeatureNotInstalledError, Installed
from riskmgr.journal.service import JournalService
from riskmgr.metrics.prometheus import MetricsFeature
from riskmgr.persistence.extensions import db
from riskmgr.risk import engine
from riskmgr.risk.emergency.service import EmergencyService
from riskmgr.scanner.core import Scanner, WinRates
from tests.conftest import make_settings

ETH = "ETH/USDT:USDT"


@pytest.fixture
def made(tmp_path, clock):
    """Return a factory of apps on one temporary database (the tables created), disposed of afterwards."""
    apps = []

    def make(**changes):
        app = create_app(make_settings(tmp_path, extra={"clock": clock}, **changes))
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def with_extra(monkeypatch, feature: Feature) -> None:
    """Run the next ``create_app`` with ``feature`` listed last."""
    monkeypatch.setattr(features, "FEATURES", (*FEATURES, feature))


def _noop(runtime):
    return None


# -- the declarations ------------------------------------------------------------------------------------------
def test_every_listed_feature_is_a_typed_feature_with_a_unique_name():
    assert FEATURES and all(isinstance(f, Feature) for f in FEATURES)
    names = [f.name for f in FEATURES]
    assert len(set(names)) == len(names)
    check(FEATURES)  # the real list passes the start-up check


def test_the_order_is_declared_risk_first_and_its_poll_hook_runs_before_every_other():
    assert FEATURES[0].name == features.FIRST == "risk"
    assert features.poll_hooks()[0] is engine.poll_hook
    assert features.poll_hooks() == [f.poll_hook for f in FEATURES if f.poll_hook is not None]


def test_a_list_that_does_not_start_with_the_risk_engine_is_refused_naming_the_order():
    reordered = (FEATURES[1], FEATURES[0], *FEATURES[2:])

    with pytest.raises(InvalidFeatureError, match="'emergency': order comes first; the 'risk' feature must"):
        check(reordered)


def test_a_feature_listed_twice_is_refused():
    with pytest.raises(InvalidFeatureError, match="'journal': name is declared twice"):
        check((*FEATURES, next(f for f in FEATURES if f.name == "journal")))


def test_a_module_in_place_of_a_feature_is_refused():
    with pytest.raises(InvalidFeatureError, match="FEATURES entry is a module, not a Feature"):
        check((*FEATURES, engine))


@pytest.mark.parametrize(("feature", "words"), [
    (Feature(name="bad", poll_hook=_noop), "'bad': poll_hook must take 2 positional argument(s)"),
    (Feature(name="bad", jobs=42), "'bad': jobs is a int, not a function"),
    (Feature(name="bad", install=lambda: ()), "'bad': install must take 1 positional argument(s)"),
    (Feature(name="bad", settings_from_env="SIGNAL_SECONDS"), "'bad': settings_from_env is a str, not a function"),
    (Feature(name="bad", provides=("Scanner",)), "'bad': provides must be a tuple of classes"),
    (Feature(name="bad", provides=(Scanner,)), "'bad': provides names what it provides but the feature has no "
                                               "install"),
    (Feature(name=""), "name must be a non-empty string"),
])
def test_a_feature_with_an_ill_typed_hook_is_refused_at_start_up_naming_the_feature_and_field(
        tmp_path, clock, monkeypatch, feature, words):
    with_extra(monkeypatch, feature)

    with pytest.raises(InvalidFeatureError) as exc:
        create_app(make_settings(tmp_path, extra={"clock": clock}))

    assert words in str(exc.value)


def test_reading_the_settings_checks_the_features_first(monkeypatch):
    with_extra(monkeypatch, Feature(name="bad", settings_from_env=lambda: {}))

    with pytest.raises(InvalidFeatureError, match="'bad': settings_from_env must take 1 positional"):
        Settings.from_env({})


def test_an_install_that_returns_other_than_it_provides_is_refused_at_start_up(tmp_path, clock, monkeypatch):
    with_extra(monkeypatch, Feature(name="bad", install=lambda rt: ("a scanner",), provides=(Scanner,)))

    with pytest.raises(InvalidFeatureError, match="'bad': install returned a str where it provides a Scanner"):
        create_app(make_settings(tmp_path, extra={"clock": clock}))


def test_an_install_that_returns_too_few_objects_is_refused_at_start_up(tmp_path, clock, monkeypatch):
    with_extra(monkeypatch, Feature(name="bad", install=lambda rt: (), provides=(Scanner,)))

    with pytest.raises(InvalidFeatureError, match=r"'bad': install returned 0 object\(s\) for the 1 it provides"):
        create_app(make_settings(tmp_path, extra={"clock": clock}))


def test_two_features_providing_the_same_type_are_refused(tmp_path, clock, monkeypatch):
    twin = Feature(name="twin", install=lambda rt: (BacktestService(rt),), provides=(BacktestService,))
    with_extra(monkeypatch, twin)

    with pytest.raises(ValueError, match="feature 'twin' provides BacktestService, already provided by feature "
                                         "'backtest'"):
        create_app(make_settings(tmp_path, extra={"clock": clock}))


# -- what the composition root wires from them --------------------------------------------------------------------
def test_what_features_provide_is_on_the_runtime_as_its_own_type(made):
    runtime = made().extensions["riskmgr"]

    for kind in (EmergencyService, ProtectionWatchdog, AccountSwitches, PositionControls, CandleStore, Scanner,
                 BacktestService, JournalService, AlertsFeature, MetricsFeature):
        assert isinstance(runtime.feature(kind), kind)
    assert runtime.optional_feature(WinRates) is None  # declared as an extension point; no feature provides it


def test_asking_for_an_object_no_feature_provides_is_a_clear_error(made):
    runtime = made().extensions["riskmgr"]

    with pytest.raises(FeatureNotInstalledError, match=r"WinRates is not installed: no feature in "
                                                       r"riskmgr\.app\.features\.FEATURES provides it"):
        runtime.feature(WinRates)


def test_the_registry_gives_back_each_object_as_its_type_and_refuses_a_second_provider():
    installed = Installed()
    switches_double = SimpleNamespace()
    installed.put(AccountSwitches, switches_double, by="controls")

    assert installed.get(AccountSwitches) is switches_double and installed.provider(AccountSwitches) == "controls"
    assert installed.find(Scanner) is None and AccountSwitches in installed
    with pytest.raises(ValueError, match="already provided by feature 'controls'"):
        installed.put(AccountSwitches, SimpleNamespace(), by="other")
    with pytest.raises(FeatureNotInstalledError, match=r"Scanner is not installed.*\(installed: AccountSwitches\)"):
        installed.replace(Scanner, SimpleNamespace())


@pytest.mark.parametrize("field", ["blueprint", "nav", "cli"])
def test_a_feature_declares_no_page_navigation_or_command_those_are_the_web_and_cli_layers(field):
    with pytest.raises(TypeError, match=field):
        Feature(name="bad", **{field: ()})


def test_the_entry_checks_the_gateway_asks_are_the_ones_the_features_declare(made):
    runtime = made().extensions["riskmgr"]
    switches(runtime).set_paused("paper", True, reason="drill", by="tester")

    declared = [check("paper") for f in FEATURES if f.entry_checks is not None for check in f.entry_checks(runtime)]

    assert [v for v in declared if v is not None] == runtime.gateway.entry_verdicts("paper")
    assert [v.allowed for v in runtime.gateway.entry_verdicts("paper")] == [False]  # the pause, from controls


def test_an_entry_check_declared_by_a_feature_denies_new_entries_at_the_gate(made, monkeypatch):
    denial = Verdict.deny("drill_rule", "entries closed for the drill")
    with_extra(monkeypatch, Feature(name="drill", entry_checks=lambda rt: [lambda account: denial]))
    runtime = made().extensions["riskmgr"]
    poll_cycle(runtime)  # the gate denies new risk until the account has been read
    mark = runtime.market.ticker(ETH).mark
    request = OrderRequest(ETH, OrderSide.BUY, OrderType.MARKET, Decimal("0.05"), leverage=2,
                           stop_loss=(mark * Decimal("0.98")).quantize(Decimal("0.01")))

    result = runtime.gateway.submit("paper", request, actor="tester", intent_id="drill-1")

    assert not result.accepted and denial in result.denials


def test_an_entry_check_that_is_not_a_function_of_the_account_is_refused_at_start_up(tmp_path, clock, monkeypatch):
    with_extra(monkeypatch, Feature(name="drill", entry_checks=lambda rt: [lambda: None]))

    with pytest.raises(InvalidFeatureError, match=r"'drill': entry_checks\[0\] must take 1 positional argument"):
        create_app(make_settings(tmp_path, extra={"clock": clock}))


def test_an_empty_feature_list_is_refused():
    with pytest.raises(InvalidFeatureError, match="FEATURES is empty"):
        check(())


def test_a_rearm_guard_declared_by_a_feature_refuses_the_rearm_with_its_reason(made, monkeypatch):
    with_extra(monkeypatch, Feature(name="drill", rearm_guards=lambda rt: [lambda: "the drill is still on"]))
    runtime = made().extensions["riskmgr"]
    runtime.trading.escalate(TradingState.HALTED, "drill", "tester")

    with pytest.raises(ValidationError, match="cannot re-arm: the drill is still on"):
        runtime.trading.rearm("back to work", "tester")
    assert runtime.trading.current().state is TradingState.HALTED


def test_the_emergency_stops_declared_guard_refuses_a_rearm_while_a_sequence_runs(made):
    runtime = made().extensions["riskmgr"]
    svc = runtime.feature(EmergencyService)
    svc.begin("guard drill", actor="tester", trigger="test")  # recorded as running, not run

    with pytest.raises(ValidationError, match="cannot re-arm: emergency stop sequence #1 is still running"):
        runtime.trading.rearm("back to work", "tester")


def test_the_scheduler_runs_the_declared_jobs_in_feature_order_and_serving_runs_the_declared_hooks(made):
    from riskmgr.app.jobs import job_table

    app = made()
    runtime = app.extensions["riskmgr"]
    declared = [(job_id, seconds) for f in FEATURES if f.jobs for job_id, seconds, _ in f.jobs(runtime)]

    assert [(job_id, seconds) for job_id, seconds, _ in job_table(app)][3:] == declared
    assert [job_id for job_id, _ in declared] == ["emergency-resume", "signal-scan", "liveness"]
    assert features.on_serve_hooks() == [f.on_serve for f in FEATURES if f.on_serve is not None]


def test_a_features_settings_are_read_under_its_name_and_default_when_not_given(tmp_path):
    settings = Settings.from_env({"SIGNAL_SECONDS": "120", "INSTANCE_PATH": str(tmp_path)})

    assert settings.feature("scanner").signal_seconds == 120
    assert make_settings(tmp_path).feature("scanner").signal_seconds == 60  # the feature's default
    with pytest.raises(LookupError, match="no feature is called 'nope'"):
        settings.feature("nope")
    with pytest.raises(LookupError, match="feature 'journal' has no settings of its own"):
        settings.feature("journal")


# -- threads -----------------------------------------------------------------------------------------------------
def test_building_the_app_starts_no_thread_and_calls_no_server_hook(tmp_path, clock, monkeypatch):
    served, started = [], []
    with_extra(monkeypatch, Feature(name="drill", on_serve=served.append))
    caller, real_start = threading.current_thread(), threading.Thread.start

    def spy(thread: threading.Thread) -> None:
        if threading.current_thread() is caller:  # started from this call, not by another test's leftovers
            started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", spy)
    app = create_app(make_settings(tmp_path, extra={"clock": clock}))  # as `flask db upgrade` would
    monkeypatch.setattr(threading.Thread, "start", real_start)

    assert started == []
    assert served == []
    from riskmgr.app.scheduler import serve

    serve(app)  # gunicorn's post_worker_init / `flask scheduler run`
    assert served == [app.extensions["riskmgr"]]
    with app.app_context():
        db.engine.dispose()

