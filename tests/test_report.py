"""The report pipeline: parameters, HTML without code, metrics, failures and stale files."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from chainsight import cli, report


def _notebook(path, body: str, params: str = "x = 1\n"):
    p = new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# Fixture"), p, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def fixture_notebooks(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "00_fine.ipynb", "from chainsight.report import record, record_versions\n"
              "record('twice_x', 2 * x)\nprint('SECRET_SOURCE_LINE')\nrecord_versions()")
    _notebook(nbs / "01_broken.ipynb", "raise ValueError('deliberate failure for the test')")
    _notebook(nbs / "02_after.ipynb", "from chainsight.report import record\nrecord('y', y)",
              params="y = 0\n")
    params = tmp_path / "p.yaml"
    params.write_text("name: fixture\nparameters:\n  x: 21\n  y: 5\n  unused: 9\n")
    return nbs, params


def test_failing_notebook_fails_the_run_but_not_the_others(fixture_notebooks, tmp_path):
    nbs, params = fixture_notebooks
    out = tmp_path / "run"
    out.mkdir()
    (out / "01_broken.html").write_text("an old report that must not survive")
    code = cli.main(["report", "--params", str(params), "--out", str(out),
                     "--notebooks-dir", str(nbs)])
    assert code == 1
    assert not (out / "01_broken.html").exists()
    assert (out / "00_fine.html").exists() and (out / "02_after.html").exists()
    metrics = json.loads((out / "metrics.json").read_text())["notebooks"]
    assert metrics["00_fine"]["status"] == "ok"
    assert metrics["00_fine"]["metrics"]["twice_x"] == 42
    assert metrics["00_fine"]["parameters"] == {"x": 21}  # only what it declares
    assert metrics["02_after"]["metrics"]["y"] == 5
    assert metrics["01_broken"]["status"] == "failed"
    assert "deliberate failure" in metrics["01_broken"]["error"]
    # The kernel's peak memory, recorded by the last cell, is beside the run time.
    peak = metrics["00_fine"]["metrics"][report.PEAK_MEMORY_KEY]
    assert 0.01 < peak < 50
    index = (out / "index.html").read_text()
    assert "failed" in index and "deliberate failure" in index
    assert f"peak memory {peak:.1f} GB" in index
    html = (out / "00_fine.html").read_text()
    assert "SECRET_SOURCE_LINE" in html  # the output is shown ...
    assert "print(" not in html  # ... but not the code
    assert report.METRIC_MIME not in html


def test_selecting_notebooks_and_clean_success(fixture_notebooks, tmp_path, capfd):
    nbs, params = fixture_notebooks
    out = tmp_path / "run"
    code = cli.main(["report", "--params", str(params), "--out", str(out),
                     "--notebooks", "0,2", "--notebooks-dir", str(nbs)])
    assert code == 0
    # The terminal shows the run, not the kernels' start-up notes.
    assert "IPKernelApp" not in capfd.readouterr().err
    assert sorted(p.name for p in out.glob("*.html")) == ["00_fine.html", "02_after.html",
                                                          "index.html"]
    with pytest.raises(ValueError, match="no notebook numbered"):
        report.find_notebooks(nbs, ("07",))


def test_a_folder_that_is_not_a_report_is_never_emptied(fixture_notebooks, tmp_path, capsys):
    nbs, params = fixture_notebooks
    mine = tmp_path / "my_data"
    mine.mkdir()
    (mine / "orders.csv").write_text("the user's own file")
    (mine / "00_fine.html").write_text("an old page")
    code = cli.main(["report", "--params", str(params), "--out", str(mine),
                     "--notebooks", "0", "--notebooks-dir", str(nbs)])
    assert code == 2
    assert "holds files that are not a report (orders.csv)" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["00_fine.html", "orders.csv"]


def test_bad_parameter_set_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["report", "--params", str(tmp_path / "missing.yaml")]) == 2
    assert "parameter set not found" in capsys.readouterr().err


def test_record_rejects_values_it_cannot_store():
    with pytest.raises(TypeError, match="metric values"):
        report._jsonable(object())
    assert report._jsonable({"a": float("nan"), "b": [1, 2.5]}) == {"a": None, "b": [1, 2.5]}


def test_takeaways_refuse_a_section_that_was_skipped(capsys, monkeypatch):
    monkeypatch.setattr(report, "_skipped", {})
    report.skip("pre-build", "Skipped: the online_retail data has no calendar.")
    assert "Skipped (pre-build): the online_retail data has no calendar." in capsys.readouterr().out
    report.takeaways({"policies": ["a", "b"], "pre-build": None, "tiers": []})
    assert capsys.readouterr().out.endswith("\n- a\n- b\n")
    with pytest.raises(ValueError, match="pre-build.*skipped"):
        report.takeaways({"pre-build": "The pre-build recovers festival sales."})
    with pytest.raises(ValueError, match="section name and a reason"):
        report.skip("x", "")


def test_the_command_line_imports_only_what_a_command_needs():
    import subprocess
    import sys

    code = ("import sys; from chainsight import cli; "
            "cli.main(['check', '--mapping', 'no-such-file.yaml']); "
            "print(sorted(m for m in ('nbformat', 'papermill', 'scipy.optimize', 'ortools') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
    assert "mapping file not found" in out.stderr


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_threads_are_capped_whatever_the_jobs(jobs, monkeypatch):
    for var in report._THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(report.os, "cpu_count", lambda: 4)
    with report._thread_cap(jobs) as threads:
        assert threads == str(max(1, 4 // jobs))
        assert all(report.os.environ[v] == threads for v in report._THREAD_VARS)
    assert not any(v in report.os.environ for v in report._THREAD_VARS)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # what the user set wins
    with report._thread_cap(jobs):
        assert report.os.environ["OMP_NUM_THREADS"] == "3"


def test_the_index_marks_notebooks_that_skipped_sections():
    ok = report.NotebookResult("03_x", "ok", 1.0, {}, {report.SKIPPED_KEY: {"a": "r1",
                                                                             "b": "r2"}})
    one = report.NotebookResult("04_x", "ok", 1.0, {}, {report.SKIPPED_KEY: {"a": "r1"}})
    plain = report.NotebookResult("05_x", "ok", 1.0, {}, {})
    failed = report.NotebookResult("06_x", "failed", 1.0, {}, {}, "boom")
    assert [report.status_label(r) for r in (ok, one, plain, failed)] == [
        "ok, 2 sections skipped", "ok, 1 section skipped", "ok", "failed"]
    index = report.render_index(report.ParamSet("p", {}), [ok, plain], "now")
    assert "ok, 2 sections skipped" in index
    # Key metrics in words: 4 significant digits, no JSON, HTML escaped.
    noted = report.NotebookResult("07_x", "ok", 1.0, {}, {
        "wape": {"aware": 0.5918139132768975, "<b>": 31299.9887},
        "cost": 12345678.9, "sites": ["Beijing", "Wuhan"]})
    index = report.render_index(report.ParamSet("p", {}), [noted], "now")
    assert "aware: 0.5918; &lt;b&gt;: 31,300" in index and "0.59181" not in index
    assert "12,345,679" in index and "Beijing, Wuhan" in index and "{" not in index.split(
        "Key metrics: 07_x")[1]


def test_a_skipped_section_loses_its_method_prose_in_the_report():
    from nbformat.v4 import new_output

    nb = new_notebook(cells=[
        new_markdown_cell("## 2 PROSE_OF_X", metadata={report.SKIP_WITH: "x"}),
        new_markdown_cell("## 3 PROSE_OF_Y", metadata={report.SKIP_WITH: "y"}),
        new_code_cell("", outputs=[new_output("display_data", data={
            report.METRIC_MIME: {report.SKIPPED_KEY: {"x": "no data for x"}}})])])
    html = report.export_html(nb)
    assert "PROSE_OF_X" not in html and "PROSE_OF_Y" in html


def _paired(blind, aware, lo, hi, verdict, lower=True):
    return {"metric": "cost", "unit": "SKU", "n_units": 10, "blind": blind, "aware": aware,
            "difference": aware - blind, "lo": lo, "hi": hi, "level": 0.95,
            "lower_is_better": lower, "verdict": verdict, "n_boot": 100}


def test_the_cockpit_finds_every_comparison_and_tells_decisions_from_controls():
    runs = {
        "03_x": {"holdout_start": "2025-01-01",
                 "policies": {"total_cost": _paired(100.0, 80.0, -30.0, -10.0, "better")},
                 "negative_control": {"total_cost": _paired(100.0, 101.0, -2.0, 4.0,
                                                            "no measurable difference")},
                 report.TAKEAWAYS_KEY: {"a": ["not a comparison"]}},
        "04_x": {"tiers": {"against standard for all (strawman)": _paired(
            5.0, 4.0, -2.0, -0.5, "better")}},
        "07_x": {"campaigns": {"comparison": _paired(10.0, 12.0, 1.0, 3.0, "better",
                                                     lower=False),
                               "placebo": _paired(10.0, 9.0, -2.0, 0.5,
                                                  "no measurable difference", lower=False)},
                 "ranking": [_paired(0.2, 0.1, -0.15, -0.05, "worse", lower=False)]},
    }
    t = report.comparisons(runs)
    assert list(t["decision"]) == ["policies › total cost", "negative control › total cost",
                                   "tiers › against standard for all (strawman)",
                                   "campaigns › comparison", "campaigns › placebo",
                                   "ranking › 1"]
    assert list(t["role"]) == ["decision", "control", "beside", "decision", "control",
                               "decision"]
    assert list(t["judged_from"].fillna("")) == ["2025-01-01", "2025-01-01", "", "", "", ""]
    g = report.profile_gain(t).set_index("decision")
    # Lower cost and higher margin both read as a gain; the interval turns with the sign.
    assert g.loc["policies › total cost", "gain"] == pytest.approx(0.2)
    assert g.loc["policies › total cost", ["gain_lo", "gain_hi"]].tolist() == pytest.approx(
        [0.1, 0.3])
    assert g.loc["campaigns › comparison", "gain"] == pytest.approx(0.2)
    assert g.loc["ranking › 1", "gain"] == pytest.approx(-0.5)
    index = report.render_index(report.ParamSet("p", {}), [
        report.NotebookResult(k, "ok", 1.0, {}, v) for k, v in runs.items()], "now")
    assert "3 decisions judged: the profile did better in 2, worse in 1" in index
    assert index.index("Profile-blind against profile-aware") < index.index("<th>duration")
    # Each measure in its own terms: money with the run's currency, shares in % and points.
    runs["03_x"][report.CURRENCY_KEY] = "CNY"
    runs["07_x"]["ranking"][0]["metric"] = "share of revenue reached"
    shown = report.readable(report.comparisons(runs), report.run_currency(runs))
    first, last = shown.iloc[0], shown.iloc[-1]
    assert (first["profile-blind"], first["profile-aware"]) == ("100.00 CNY", "80.00 CNY")
    assert first["difference (interval)"] == "-20.00 CNY (95% -30.00 to -10.00)"
    assert first["judged over"] == "10 SKUs" and first["notebook"] == "03"
    assert (last["profile-blind"], last["profile-aware"]) == ("20.0%", "10.0%")
    assert last["difference (interval)"] == "-10.0 points (95% -15.0 to -5.0)"
    assert report.comparisons({}).empty and report.cockpit_table({}) == ""


def test_a_notebook_that_sums_up_the_run_runs_last_and_is_given_the_folder(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "00_sum.ipynb", "from chainsight import report\n"
              "from chainsight.report import record\n"
              "from pathlib import Path\n"
              "record('seen', sorted(report.read_run(Path(report_dir), ('00_sum',))))",
              params="report_dir = ''\n")
    _notebook(nbs / "01_a.ipynb", "from chainsight.report import record\nrecord('x', x)")
    params = tmp_path / "p.yaml"
    params.write_text("name: fixture\nparameters:\n  x: 1\n")
    out = tmp_path / "out"
    assert cli.main(["report", "--params", str(params), "--notebooks-dir", str(nbs),
                     "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["notebooks"]
    assert list(metrics) == ["01_a", "00_sum"]
    assert metrics["00_sum"]["metrics"]["seen"] == ["01_a"]
    assert metrics["00_sum"]["parameters"]["report_dir"] == str(out.resolve())


def test_measures_read_in_their_own_terms():
    assert [report.measure_kind(m) for m in (
        "WAPE at category", "Fill rate", "holdout cost per order", "CLV kept per key customer",
        "holdout mean delivery days", "road km per day", "NDCG@10",
        "mean squared error of purchase days per customer")] == [
        "share", "share", "money", "money", "days", "km", "number", "number"]
    assert [report.plural(u, n) for u, n in (
        ("customer", 1765), ("origin x week", 32), ("city", 44), ("day", 5),
        ("customer in the audience", 7), ("SKU", 1))] == [
        "1,765 customers", "32 origin x weeks", "44 cities", "5 days",
        "7 customers in the audience", "1 SKU"]


def test_report_pages_are_self_contained_with_formulas_as_mathml():
    nb = new_notebook(cells=[new_markdown_cell(
        "Cost $\\sum_i c_i x_i$ per day, and\n\n$$\\min_x \\; f(x)$$\n\nbut 5 $ is text.")])
    page = report.export_html(nb)
    assert "<math" in page and 'display="block"' in page and "<msub>" in page
    assert "$\\sum" not in page and "5 $ is text" in page
    assert "cdnjs" not in page and "require.js" not in page and "<script src" not in page
    with pytest.raises(ValueError, match="cannot be drawn as MathML"):
        report.markdown_math_to_mathml("$\\frac{1}{$")


def test_a_chart_says_what_it_shows_in_its_alt_text():
    import matplotlib.pyplot as plt

    from chainsight import plots

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    ax.set(title="Orders per week", xlabel="week", ylabel="orders")
    assert plots.describe(fig) == "Chart: Orders per week (x: week; y: orders)"
    plt.close(fig)
    fig, _ = plt.subplots()
    assert plots.describe(fig) == "Chart without a title"
    plt.close(fig)


def test_what_if_controls_rerun_on_demand_and_stay_out_of_reports(monkeypatch):
    from chainsight import progress, whatif

    monkeypatch.delenv(progress.REPORT_ENV, raising=False)
    seen = []
    box = whatif.panel(lambda a, b: seen.append((a, b)),
                       a=whatif.slider("a", 0.0, 1.0, 0.1, 0.3),
                       b=whatif.slider("b", 1.0, 5.0, 1.0, 9.0))
    a, b, run, _ = box.children
    assert (a.value, b.value) == (0.3, 5.0)  # a value outside the range is clipped
    assert seen == []  # nothing runs until Run is pressed
    b.value = 2.0
    run.click()
    assert seen == [(0.3, 2.0)] and not run.disabled
    assert not progress.bar(range(3), "steps").disable
    with pytest.raises(ValueError, match="needs low < high"):
        whatif.slider("x", 1.0, 1.0, 0.1, 1.0)
    # A report run builds no controls and shows no progress bars.
    monkeypatch.setenv(progress.REPORT_ENV, "1")
    assert whatif.panel(lambda: None) is None
    assert progress.bar(range(3), "steps").disable


def test_tables_read_without_row_numbers_and_with_separators():
    import pandas as pd

    from chainsight import plots

    frame = pd.DataFrame({"table": ["orders", "<b>x</b>"], "rows": [20002, 3],
                          "share": [0.123456, 12345.678], "n": [1.0, None]})
    page = plots.table_html(frame)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert cells == ["orders", "20,002", "0.1235", "1", "&lt;b&gt;x&lt;/b&gt;", "3", "12,346", ""]
    assert "<th" not in page.split("</thead>")[1]  # no row numbers
    keyed = plots.table_html(frame.set_index("table").style.format({"share": "{:.1%}"}))
    assert ">orders</th>" in keyed and "12.3%" in keyed  # a real index and its formats stay
