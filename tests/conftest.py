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


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """Every notebook on the quick parameter set, through the users' command (run once,
    read by the notebook tests and the browser tests)."""
    out = tmp_path_factory.mktemp("reports") / "quick"
    code = cli.main(["report", "--params", str(ROOT / "reports/params/quick.yaml"),
                     "--out", str(out), "--jobs", "2"])
    metrics = json.loads((out / "metrics.json").read_text())["notebooks"]
    errors = {k: v["error"] for k, v in metrics.items() if v["error"]}
    assert code == 0, errors
    return out, metrics
