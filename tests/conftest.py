from __future__ import annotations

import pytest

from chainsight import synthetic


@pytest.fixture(scope="session")
def small():
    """The small synthetic retailer, in memory."""
    return synthetic.generate("small", seed=42)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private data folder for tests that write generated data."""
    monkeypatch.setenv("CHAINSIGHT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
