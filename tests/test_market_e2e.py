"""The exported script market runs the same as the package."""
import os

from guance_monitor import clock
from guance_monitor_local import func_runtime
from guance_monitor_local import market

from conftest import account_for
from test_core_e2e import DOC_EXAMPLE


def startup_source(sandbox):
    with open(DOC_EXAMPLE, encoding="utf-8") as handle:
        text = handle.read()
    for key, value in account_for(sandbox).items():
        text = text.replace("{%s}" % key, value)
    return text


def run_with(library, sandbox, tmp_path, name):
    runtime = func_runtime.FuncRuntime(
        library=func_runtime.OverlayLibrary(library, {"startup__doc_example": (startup_source(sandbox), "<s>")}),
        state_dir=str(tmp_path / name), echo=lambda line: None)
    sandbox.set_run(0)
    with clock.frozen(sandbox.scenario.runs[0]):
        result = runtime.run("startup__doc_example.run")
    assert result.ok, result.error
    return [(e["title"], e["status"], e["dimension_tags"], e["message"]) for e in sandbox.events]


def test_exported_scripts_run_like_the_package(make_sandbox, tmp_path):
    out = tmp_path / "market"
    market.export(str(out))
    library = func_runtime.MarketLibrary(str(out))
    assert library.has("guance_monitor__register") and library.has("guance_monitor__runner")
    # The exported scripts carry only Func-form imports of our script sets.
    for script_id, path in library.paths.items():
        with open(path, encoding="utf-8") as handle:
            assert market.to_func_form(handle.read(), where=script_id) == open(path, encoding="utf-8").read()

    scenario = {"runs": ["2026-11-20T08:00:00Z"]}
    from_market = run_with(library, make_sandbox(scenario), tmp_path, "market")
    from_package = run_with(func_runtime.PackageLibrary(), make_sandbox(scenario), tmp_path, "package")
    assert from_market == from_package and len(from_market) == 1
    assert os.path.isfile(out / "META.yaml")


def test_exported_market_runs_the_bundled_demo_like_the_package(tmp_path):
    """Both inspections, every run of the bundled demo: the same events from the market as from the package."""
    from guance_monitor_local import demo

    out = tmp_path / "market"
    market.export(str(out))
    quiet = lambda message: None  # noqa: E731

    def events(library, name):
        demo.run(out_dir=str(tmp_path / name), progress=quiet, library=library)
        with open(str(tmp_path / name / "events.jsonl"), encoding="utf-8") as handle:
            return handle.read().splitlines()

    from_market = events(func_runtime.MarketLibrary(str(out)), "from-market")
    from_package = events(None, "from-package")
    assert from_market == from_package
    assert len(from_market) >= 5
