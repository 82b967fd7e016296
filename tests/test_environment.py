"""The project's own files agree on what to install."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_installs_the_project_and_nothing_else():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    assert pyproject["project"]["requires-python"] == ">=3.11"
    conda_pkgs = [d for d in deps if isinstance(d, str) and d not in ("pip", "python=3.11")]
    assert conda_pkgs == [], f"environment.yml lists packages outside pyproject: {conda_pkgs}"
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["-c constraints.txt", "-e .[dev]"]


def test_constraints_pin_every_dependency():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {_name(r) for r in pyproject["project"]["dependencies"]}
    wanted |= {_name(r) for r in pyproject["project"]["optional-dependencies"]["dev"]}
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            pinned[_name(name)] = version
    assert wanted <= set(pinned), f"not pinned: {sorted(wanted - set(pinned))}"


def test_lib_is_tracked_by_git():
    out = subprocess.run(["git", "check-ignore", "lib/chainsight/schema.py"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 1, "lib/ is git-ignored"


def test_ruff_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "lib", "tests", "benchmarks",
                          "notebooks"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_make_lab_starts_as_root_too():
    """JupyterLab exits as root without --allow-root; `make lab` passes it then only."""
    import os

    out = subprocess.run(["make", "-n", "-W", ".venv/.installed", "lab"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(row for row in out.splitlines() if "jupyter lab" in row)
    assert ("--allow-root" in line) == (os.geteuid() == 0), line
