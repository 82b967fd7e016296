"""The notebooks: committed clean, and run through the same pipeline users run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from chainsight import cli, datasets, exercises, report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "record_versions()" in nb.cells[-1].source
    if not path.name.startswith("_"):
        assert any("exercise" in c.metadata.get("tags", []) for c in nb.cells)


def test_parameter_sets_only_use_declared_parameters():
    declared = set()
    for p in NOTEBOOKS:
        declared |= set(pm.inspect_notebook(str(p)))
    for params in (ROOT / "reports" / "params").glob("*.yaml"):
        unknown = set(report.load_params(params).parameters) - declared
        assert not unknown, f"{params.name} sets parameters no notebook declares: {unknown}"


def test_notebook_00_on_quick(tmp_path):
    out = tmp_path / "quick"
    code = cli.main(["report", "--params", str(ROOT / "reports/params/quick.yaml"),
                     "--notebooks", "00", "--out", str(out)])
    assert code == 0, (out / "index.html").read_text() if (out / "index.html").exists() else ""
    m = json.loads((out / "metrics.json").read_text())["notebooks"]["00_data_overview"]
    ds = datasets.load("synthetic", size="small", seed=42)
    assert m["metrics"]["order_lines"] == len(ds.orders)
    assert m["metrics"]["top_event"] == "Double 11"
    assert m["metrics"]["mix_wape_aware"] < m["metrics"]["mix_wape_blind"]
    ledger = {(r["table"], r["reason"]): r["rows"] for r in m["metrics"]["data_ledger"]}
    assert ledger[("orders", "rows read")] == len(ds.orders)
    html = (out / "00_data_overview.html").read_text()
    assert "Orders over time" in html and html.count("<img") >= 3
    assert "datasets.load(" not in html
    assert "answer_1" not in html  # exercises stay in the workbook, out of the report
    index = (out / "index.html").read_text()
    assert "Data ledger" in index and "00_data_overview" in index


def test_exercise_checks(capsys, small):
    assert exercises.check("E", None, 1.0) is None
    assert exercises.check("E", 0.5, 0.5) is True
    assert exercises.check("E", 0.6, 0.5) is False
    assert exercises.check("E", "abc", 0.5) is False
    assert exercises.check("E", "1", "1") is True
    assert "not attempted" in capsys.readouterr().out
    ds = datasets.Dataset("t", small.tables(), None)
    share = exercises.express_share(ds)
    assert share == pytest.approx((small.orders["ship_mode"] == "express").mean())
    assert 0 < exercises.repeat_customer_share(small.orders) < 1
