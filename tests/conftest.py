from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainsight import cli, synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small():
    """The small synthetic retailer, in memory."""
    return synthetic.generate("small", seed=42)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private data folder for tests that write generated data."""
    monkeypatch.setenv("CHAINSIGHT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def report_run(tmp_path_factory, name: str):
    """Every notebook on parameter set ``name``, through the users' command: the run's
    folder and its notebooks' metrics."""
    out = tmp_path_factory.mktemp("reports") / name
    code = cli.main(["report", "--params", str(ROOT / f"reports/params/{name}.yaml"),
                     "--out", str(out), "--jobs", "2"])
    metrics = json.loads((out / "metrics.json").read_text())["notebooks"]
    errors = {k: v["error"] for k, v in metrics.items() if v["error"]}
    assert code == 0, errors
    return out, metrics


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """The quick parameter set (run once, read by the notebook and browser tests)."""
    return report_run(tmp_path_factory, "quick")


@pytest.fixture(scope="session")
def online_retail_run(tmp_path_factory):
    """Every notebook on the real Online Retail data."""
    return report_run(tmp_path_factory, "online_retail")
