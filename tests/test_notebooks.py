"""The notebooks: committed clean, and run through the same pipeline users run."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from chainsight import cli, clv, compare, datasets, exercises, profiling, readiness, report, service
from chainsight import schema as S

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def html_text(text: str) -> str:
    """Text as nbconvert writes it into HTML."""
    return html.escape(text, quote=False)


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


def test_notebook_00_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["00_data_overview"]
    # The generator gives its peak days to 618, Double 11 and Double 12.
    assert m["metrics"]["top_event"] in ("618", "Double 11", "Double 12")
    mix = compare.Paired(**m["metrics"]["mix_comparison"])
    assert mix.unit == "holdout week" and mix.verdict in compare.VERDICTS
    html = (out / "00_data_overview.html").read_text()
    assert "Orders over time" in html and html.count("<img") >= 3
    # The calibration table and its computed sentence, whatever it finds.
    cal = m["metrics"]["calibration"]
    assert set(cal) == {"synthetic", "online_retail", "cdnow"}
    assert cal["cdnow"]["one_time_buyer_share"] == pytest.approx(1411 / 2357, abs=0.1)
    outside = m["metrics"]["calibration_outside_real_range"]
    assert f"{len(outside)} of {len(cal['cdnow'])} calibration statistics" in html
    assert "acquisition_shift = 1 (on)" in html  # the dataset describes its effects
    assert "datasets.load(" not in html
    assert "answer_1" not in html and "Exercises" not in html  # workbook only
    index = (out / "index.html").read_text()
    assert "Data ledger" in index and "00_data_overview" in index


def test_notebook_01_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["01_customer_profiles"]["metrics"]
    # The run's profile learns from the orders before the holdout.
    ds = datasets.load("synthetic", size="small", seed=42)
    as_of = pd.Timestamp(m["run_profile"]["as_of"]) + pd.Timedelta(days=1)
    bought = ds.orders.loc[ds.orders[S.TIMESTAMP] < as_of, S.CUSTOMER_ID].nunique()
    assert m["customers_profiled"] == bought and 3 <= m["segments"] <= 8
    # The blind baselines are the ones chosen on the training period, and every
    # comparison is stated with its interval and verdict, whichever way it goes.
    assert m["targeting_baseline"] in profiling.TARGETING_BLIND.values()
    assert m["purchases_baseline"] in {f"{v}, scaled on training"
                                       for v in clv.OWN_HISTORY_METHODS.values()}
    comparisons = m["holdout_comparisons"]
    assert set(comparisons) == {"share of holdout revenue reached"} | {
        f"{m} against {b}" for m in ("MSE", "segment WAPE")
        for b in ("own history", "history regression")}
    assert m["cdnow_bgnbd"]["r"] == pytest.approx(0.243, abs=5e-4)
    html = (out / "01_customer_profiles.html").read_text()
    for heading in ("RFM", "Segment cards", "Value concentration", "CDNOW",
                    "Profile-blind vs profile-aware"):
        assert heading in html, heading


def test_notebook_02_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["02_demand_forecasting"]["metrics"]
    assert m["mase"]["gbm"] < m["mase"]["naive"]  # the global model beats the naive forecast
    html = (out / "02_demand_forecasting.html").read_text()
    for heading in ("Profile-blind vs profile-aware", "Demand from the customer base", "CDNOW"):
        assert heading in html, heading
    assert "Synthetic effect 'acquisition_shift' is at strength 1" in html
    # Computed words: each recorded comparison is stated in the takeaways, verdict included.
    diffs = m["profile_differences"]
    assert len(diffs) == 6  # segment x category, category, against random groups; x2 festival
    for d in diffs.values():
        assert html_text(compare.Paired(**d).sentence()) in html


def test_notebook_03_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["03_inventory"]["metrics"]
    assert 200 < m["skus"] <= 220  # the catalogue, less any SKU the small base never bought
    # Each side builds for festivals or not as the validation window says; targets too.
    assert m["blind_policy"] in ("uniform + pre-build", "uniform")
    assert m["aware_policy"] in ("profile + pre-build", "profile")
    assert m["targets_tuned"] is True
    total = compare.Paired(**m["total_cost_difference"])
    assert total.blind == pytest.approx(m["blind_total_cost"], rel=1e-6)
    assert total.unit == "SKU" and total.verdict in compare.VERDICTS
    assert m["negative_control"]["total_cost"]["verdict"] != "better"
    html = (out / "03_inventory.html").read_text()
    assert html_text(total.sentence("{:,.0f} CNY")) in html
    assert "walk away after a stockout" not in html
    for heading in ("ABC", "Lead-time demand", "Service targets from the profile",
                    "The policies on the holdout", "Festival pre-build", "Inventory health",
                    "Negative control", "Key takeaways"):
        assert heading in html, heading
    assert html.count("<img") >= 6


def test_notebook_03_on_online_retail(online_retail_run):
    _, metrics = online_retail_run
    m = metrics["03_inventory"]["metrics"]
    assert set(m["skipped"]) == {"pre-build", "negative control"}
    assert m["blind_policy"] == "uniform"


def test_notebook_04_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["04_logistics"]["metrics"]
    nets, c = m["networks"], m["network_comparisons"]
    assert nets["profile-aware"]["min_segment_share_within_radius"] >= 0.9
    assert nets["ship-mode rule"]["express_orders_within_radius"] >= 0.9
    assert (nets["ship-mode rule, equal cost"]["total_cost"]
            <= nets["profile-aware"]["total_cost"] * (1 + 1e-9))
    assert nets["cost only"]["total_cost"] == min(n["total_cost"] for n in nets.values())
    for key in ("express orders next day, at equal cost", "cost per order, at equal service"):
        assert c[key]["verdict"] in compare.VERDICTS and c[key]["unit"] == "city"
    assert c["express orders next day, against cost only (strawman)"]["verdict"] == "better"
    assert set(m["tier_comparisons"]) == {
        "total cost per order, against customers' choice",
        "total cost per order, against standard for all (strawman)"}
    assert m["last_mile_on_time"]["profile-blind"] == 1.0  # time windows are hard constraints
    assert "express orders next day, at equal cost" in m["negative_control"]
    assert m["reference_max_gap"] < 1e-9
    assert set(m["takeaways"]) == {"warehouse network", "holdout", "delivery tiers",
                                   "last mile", "negative control", "published instances"}
    assert "skipped" not in m
    html = (out / "04_logistics.html").read_text()
    for heading in ("Demand geography", "Where to put the warehouses",
                    "What the holdout can change", "Which delivery tier",
                    "Deliveries in one city", "Negative control",
                    "Checked on published instances", "Key takeaways"):
        assert heading in html, heading


def test_notebook_05_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["05_customised_production"]["metrics"]
    checks = m["published_check"]
    assert checks["Red Tomato Tools, LP"]["computed"] == pytest.approx(422_275, abs=0.5)
    assert checks["Red Tomato Tools, whole units"]["computed"] == pytest.approx(422_660,
                                                                                 abs=0.5)
    assert all(abs(v["gap"]) < 0.02 for v in checks.values())
    for key in ("share_comparison", "forecast_comparison", "capacity_comparison"):
        assert m[key]["verdict"] in compare.VERDICTS and m[key]["unit"] == "week"
    assert set(m["strategy_comparisons"]) == {"total cost", "lines on time"}
    assert set(m["strategy_totals"]) == {"category rule", "blind", "aware", "hindsight"}
    assert sum(m["strategy_choices"].values()) + m["strategy_left_out"]["products"] == len(
        datasets.load("synthetic", size="small").tables["products"].query("customisable"))
    assert m["planned_utilisation"] == pytest.approx(0.85, abs=0.02)
    assert set(m["negative_control"]) == {"customised share", "customised units forecast",
                                          "capacity cost", "strategy, total cost",
                                          "strategy, lines on time"}
    # With every effect off the segments' share must not beat the whole base's.
    assert m["negative_control"]["customised share"]["verdict"] != "better"
    assert set(m["takeaways"]) == {"customisation demand", "forecast",
                                   "make to stock or to order", "capacity",
                                   "lead time by segment", "negative control",
                                   "published check"}
    assert "skipped" not in m
    html = (out / "05_customised_production.html").read_text()
    for heading in ("Who asks for customisation", "How many customised units will come",
                    "Make to stock, assemble to order or make to order",
                    "Capacity for customised work", "Lead time by segment", "Negative control",
                    "Checked on a published plan", "Key takeaways"):
        assert heading in html, heading


def test_notebook_05_on_online_retail(online_retail_run):
    out, metrics = online_retail_run
    m = metrics["05_customised_production"]["metrics"]
    assert set(m["skipped"]) == {"customisation demand", "capacity for customised work",
                                 "make to stock or to order", "lead time by segment",
                                 "negative control"}
    assert m["total_capacity"]["workers"] > 0 and m["total_capacity"]["cost"] > 0
    assert set(m["takeaways"]) == {"capacity", "published check"}
    html = (out / "05_customised_production.html").read_text()
    assert "has no column 'customised' of table 'orders'" in html
    assert "No customisation in this data, so one plan for all units" in html


def test_notebook_06_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["06_supply_chain_risk"]["metrics"]
    conc = m["concentration"]
    assert {"customer", "segment", "city", "product", "supplier"} <= set(conc)
    assert all(1 / v["holders"] - 1e-9 <= v["hhi"] <= 1 for v in conc.values())
    assert m["early_warning"]["unit"] == "customer"
    assert set(m["early_warning_real"]) == {"online_retail", "cdnow"}
    equal = m["early_warning_equal_cost"]
    assert {"5%", "10%", "20%", "30%", "50%"} <= set(equal)
    assert equal["placebo_better"] == 0  # the negative control: no information, no win
    assert "electronics, all" in m["drift_first_alarm"]
    assert set(m["quality_alarms"]) == {"whole business", "profile-blind", "profile-aware"}
    incidents = m["quality_incidents"]
    assert incidents["comparison"]["unit"] == "incident"
    assert incidents["comparison"]["n_units"] == 40
    assert all(0 <= incidents[side]["caught"] <= 1 for side in ("profile-blind",
                                                                "profile-aware"))
    assert m["backup"]["comparison"]["unit"] == "year"
    kinds = {w.split(" ")[0] for w in m["exposure"]}
    assert kinds <= {"site", "supplier", "region"} and len(kinds) >= 2
    assert all(v["clv_lost"] >= 0 and v["revenue_lost"] >= 0 for v in m["exposure"].values())
    assert set(m["takeaways"]) == {"concentration", "key customers", "real data",
                                   "demand drift", "quality incident", "stress test",
                                   "negative control"}
    assert "skipped" not in m
    html = (out / "06_supply_chain_risk.html").read_text()
    for heading in ("How concentrated is the business", "Key customers who are lapsing",
                    "Has a segment", "Is a product failing its buyers",
                    "Losing a warehouse", "Negative control", "Key takeaways"):
        assert heading in html, heading


def test_notebook_07_on_quick(quick_run):
    out, metrics = quick_run
    m = metrics["07_personalised_service"]["metrics"]
    reco = m["recommendations"]
    assert reco["chosen"]["blind"] in service.BLIND
    assert reco["chosen"]["aware"] in service.AWARE
    assert reco["comparison"]["unit"] == "customer"
    assert reco["comparison"]["n_units"] == reco["customers"] and reco["cold"] > 0
    assert set(reco["ndcg"]) == set(reco["placebo_ndcg"]) == set(service.RECOMMENDERS)
    assert all(0 <= v <= 1 for v in reco["ndcg"].values())
    assert set(m["takeaways"]) == {"recommendations", "recommendations and stock",
                                   "price sensitivity", "service tiers", "campaigns",
                                   "negative control", "campaign stock"}
    assert "skipped" not in m
    assert m["recommendation_stock"]["moved_lines"] > 0
    assert m["recommendation_stock"]["comparison"]["unit"] == "SKU"
    assert set(m["price_sensitivity"]["uplift"]) >= {"all"}
    assert m["price_sensitivity"]["comparison"]["unit"] == "promotion"
    names = {t[0] for t in service.SERVICE_TIERS.values()}
    assert set(m["service_tiers"]["tiers"].values()) <= names
    assert {"stock", "delivery"} <= set(m["service_tiers"])
    camp = m["campaigns"]
    assert camp["chosen"]["blind"] in service.CAMPAIGN_BLIND
    assert camp["chosen"]["aware"] in service.CAMPAIGN_AWARE
    assert camp["comparison"]["unit"] == "customer in the audience"
    assert set(camp["equal_cost"]) == {f"{b:.0%} of the audience" for b in service.BUDGETS}
    # The negative control: with the coupon doing nothing, targeting cannot win.
    assert camp["coupon_response_off"]["verdict"] != "better"
    html = (out / "07_personalised_service.html").read_text()
    for heading in ("The data and the profile", "Recommendations", "Price sensitivity",
                    "Service tiers", "Coupon campaigns", "Stock for the campaign",
                    "Key takeaways"):
        assert heading in html, heading


def test_notebook_08_sums_up_the_run(quick_run):
    """The cockpit reads every other notebook of the run (it runs last) and counts each
    decision the run judged; the index opens with the same table."""
    from chainsight import report

    out, metrics = quick_run
    m = metrics["08_summary_cockpit"]["metrics"]["cockpit"]
    others = {k: v["metrics"] for k, v in metrics.items() if k != "08_summary_cockpit"}
    table = report.comparisons(others)
    assert m["notebooks"] == len(others) == 8
    assert m["decisions"] == int((table["role"] == "decision").sum()) > 10
    assert m["controls"] == int((table["role"] == "control").sum()) > 0
    assert sum(m["verdicts"].values()) == m["decisions"]
    assert set(metrics["08_summary_cockpit"]["metrics"]["takeaways"]) == {"cockpit", "controls"}
    index = (out / "index.html").read_text()
    assert f"{m['decisions']} decisions judged" in index
    assert index.index("Profile-blind against profile-aware") < index.index("<th>duration")
    page = (out / "08_summary_cockpit.html").read_text()
    assert "decisions judged" in page and "The controls" in page


def test_notebook_07_on_online_retail(online_retail_run):
    _, metrics = online_retail_run
    m = metrics["07_personalised_service"]["metrics"]
    assert m["recommendations"]["customers"] > 1000
    # No promotions, no delivery data, no campaigns: those sections say so; the service
    # tiers follow value alone and set stock priority.
    assert set(m["skipped"]) == {"price sensitivity", "delivery tiers", "campaigns",
                                 "negative control"}
    assert set(m["takeaways"]) == {"recommendations", "recommendations and stock",
                                   "service tiers"}
    assert "delivery" not in m["service_tiers"] and "campaigns" not in m


def test_notebook_06_on_online_retail(online_retail_run):
    out, metrics = online_retail_run
    m = metrics["06_supply_chain_risk"]["metrics"]
    assert set(m["skipped"]) == {"demand drift", "quality incident", "stress test",
                                 "negative control"}
    assert "country" in m["concentration"] and m["early_warning"]["unit"] == "customer"
    assert set(m["takeaways"]) == {"concentration", "key customers", "real data"}


def test_effect_strengths_reach_the_notebooks(tmp_path):
    params = tmp_path / "off.yaml"
    params.write_text("name: off\nparameters: {dataset: synthetic, size: small, seed: 42, "
                      "effects: {acquisition_shift: 0}}\n")
    out = tmp_path / "off"
    assert cli.main(["report", "--params", str(params), "--notebooks", "00", "--out",
                     str(out)]) == 0
    html = (out / "00_data_overview.html").read_text()
    assert "acquisition_shift = 0 (off)" in html and "category_shift = 1 (on)" in html


_PAIRED_FIELDS = set(compare.Paired.__dataclass_fields__)


def recorded_comparisons(value) -> list[compare.Paired]:
    """Every comparison a notebook recorded (a Paired as a dict), wherever it sits."""
    if isinstance(value, dict):
        if _PAIRED_FIELDS <= set(value):
            return [compare.Paired(**{k: value[k] for k in _PAIRED_FIELDS})]
        return [p for v in value.values() for p in recorded_comparisons(v)]
    if isinstance(value, list):
        return [p for v in value for p in recorded_comparisons(v)]
    return []


@pytest.mark.parametrize("run", ["quick_run", "online_retail_run"])
def test_takeaways_state_only_what_ran_and_what_was_measured(run, request):
    """Computed words: every takeaway is printed as recorded, none is about a section that
    was skipped, every skipped section says so, and every recorded comparison's verdict
    is stated with its interval."""
    out, metrics = request.getfixturevalue(run)
    index = (out / "index.html").read_text()
    for stem, nb in metrics.items():
        m = nb["metrics"]
        page = (out / f"{stem}.html").read_text()
        assert "takeaways" in m, f"{stem} records no takeaways"
        skipped = m.get("skipped") or {}
        assert not set(m["takeaways"]) & set(skipped), stem
        for section, reason in skipped.items():
            assert html_text(f"Skipped ({section}): {reason}") in page, (stem, section)
        for lines in m["takeaways"].values():
            for line in lines:
                assert html_text(line) in page, (stem, line)
                assert html.escape(line) in index, (stem, line)  # the index repeats them
        for p in recorded_comparisons(m):
            assert html_text(f"over {p.n_units} {p.unit} units): {p.verdict}.") in page, (
                stem, p.metric)


def assert_skips_as_readiness_says(metrics: dict, ds) -> None:
    """The notebooks skip exactly the sections `chainsight check` says they will, with
    the same reasons (sections that skip for reasons found while running, such as a
    holdout without festivals, are not in the readiness rules)."""
    predicted = readiness.skips(ds)
    ruled = {(n.notebook, n.section) for n in readiness.NEEDS}
    for stem, nb in metrics.items():
        skipped = nb["metrics"].get("skipped") or {}
        for (notebook, section), reason in predicted.items():
            if stem.startswith(notebook):
                assert skipped.get(section, "").startswith(reason), (stem, section)
        for section in skipped:
            assert (stem[:2], section) in predicted or (stem[:2], section) not in ruled, (
                stem, section)


@pytest.mark.parametrize("run,dataset", [("quick_run", "synthetic"),
                                         ("online_retail_run", "online_retail")])
def test_notebooks_skip_what_check_predicts(run, dataset, request):
    _, metrics = request.getfixturevalue(run)
    assert_skips_as_readiness_says(metrics, datasets.load(dataset, size="small"))


def test_notebook_04_says_what_online_retail_lacks(online_retail_run):
    out, metrics = online_retail_run
    m = metrics["04_logistics"]["metrics"]
    html = (out / "04_logistics.html").read_text()
    assert "has no column 'city' of table 'customers'" in html
    assert "Skipped (warehouse network):" in html
    # the skipped sections' method prose is left out; the skip lines say it all
    assert 'id="3-Where-to-put-the-warehouses"' not in html
    assert 'id="5-Which-delivery-tier-for-whom"' not in html
    assert 'id="8-Checked-on-published-instances"' in html
    assert set(m["skipped"]) == {"warehouse network", "holdout", "delivery tiers", "last mile",
                                 "negative control"}
    assert set(m["takeaways"]) == {"published instances"}
    assert "United Kingdom" in html and "Checked on published instances" in html
    assert "Traceback" not in html and "Warning:" not in html


def test_reports_show_no_warnings_or_tracebacks(quick_run):
    out, _ = quick_run
    for page in out.glob("[0-9]*.html"):
        text = page.read_text()
        assert "Warning:" not in text and "Traceback" not in text, page.name
        shown = html.unescape(re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", text,
                                     flags=re.S))
        assert "['" not in shown, f"{page.name} shows a Python list"


PROFILE_PARAMETERS = ("k_min", "k_max", "segment_method", "horizon_weeks", "discount_rate",
                      "holdout_start")


def test_the_notebooks_that_use_the_profile_declare_its_settings_alike():
    """A parameter file's profile settings reach every notebook that builds the run's
    profile, with the same defaults, so that they all build (and share) the same one."""
    found = {}
    for p in NOTEBOOKS:
        if "profiling.run_profile(" not in p.read_text():
            continue
        declared = pm.inspect_notebook(str(p))
        found[p.stem] = {k: declared[k]["default"] for k in PROFILE_PARAMETERS}
    assert set(found) == {"01_customer_profiles", "02_demand_forecasting", "03_inventory",
                          "04_logistics", "05_customised_production",
                          "06_supply_chain_risk", "07_personalised_service"}
    assert len({tuple(v.items()) for v in found.values()}) == 1, found


@pytest.mark.parametrize("run", ["quick_run", "online_retail_run"])
def test_one_profile_per_run(run, request):
    """Every notebook of a run keys its segments on the same profile: the same date and
    the same segments, of the same sizes."""
    _, metrics = request.getfixturevalue(run)
    profiles = {k: v["metrics"]["run_profile"] for k, v in metrics.items()
                if "run_profile" in v["metrics"]}
    assert "01_customer_profiles" in profiles and len(profiles) >= 2, set(profiles)
    first = profiles["01_customer_profiles"]
    assert all(p == first for p in profiles.values()), profiles


@pytest.mark.parametrize("run,dataset", [("quick_run", "synthetic"),
                                         ("online_retail_run", "online_retail")])
def test_no_raw_customer_id_in_any_report(run, dataset, request):
    """No raw id anywhere (the synthetic ids are distinctive words); and a table of
    customers (one with pseudonymous keys) has no id in any cell and no row numbers but
    its own 1..n, since the customers table's row numbers give the ids away too."""
    out, _ = request.getfixturevalue(run)
    ids = set(datasets.load(dataset, size="small").tables["customers"][S.CUSTOMER_ID])
    customer_tables = 0
    for page in out.glob("*.html"):
        text = page.read_text()
        if dataset == "synthetic":
            leaked = ids & set(re.findall(r"[A-Za-z0-9]+", text))
            assert not leaked, f"{page.name} shows raw customer ids, e.g. {sorted(leaked)[:3]}"
        for table in re.findall(r"<table.*?</table>", text, re.S):
            if not re.search(r">[0-9a-f]{16}<", table):
                continue
            customer_tables += 1
            cells = set(re.findall(r"<t[dh][^>]*>\s*([^<]*?)\s*</t[dh]>", table))
            assert not ids & cells, (page.name, sorted(ids & cells)[:3])
            body = table.split("<tbody>")[-1]
            rows = re.findall(r"<tr>\s*<th[^>]*>\s*([^<]*?)\s*</th>", body)
            assert all(r.isdigit() and 1 <= int(r) <= len(rows) for r in rows), (page.name,
                                                                                 rows[:5])
    assert customer_tables >= 1


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


def test_profile_exercise_answers():
    customers = pd.DataFrame({"segment": [1, 1, 2], "monetary": [30.0, 10.0, 60.0],
                              "rfm_group": ["champions", "loyal", "champions"]})
    assert exercises.segment_revenue_share(customers, 1) == pytest.approx(0.4)
    assert exercises.rfm_group_size(customers, "champions") == 2


def test_forecast_exercise_answers():
    bt = pd.DataFrame({"model": ["a", "a", "b", "b"], "y": [10.0, 10.0, 10.0, 10.0],
                       "yhat": [12.0, 9.0, 10.0, 10.5]})
    assert exercises.model_wape(bt, "a") == pytest.approx(3 / 20)
    assert exercises.least_biased_model(bt) == "b"


def test_the_facilitators_copy_works_every_exercise(tmp_path):
    """`chainsight report --solutions`: every exercise filled with its worked solution
    (chainsight.exercises.SOLUTIONS) reads "correct", and the page shows the code."""
    out = tmp_path / "solutions"
    code = cli.main(["report", "--params", str(ROOT / "reports/params/quick.yaml"),
                     "--solutions", "--out", str(out), "--jobs", "2"])
    assert code == 0
    stems = {p.stem for p in NOTEBOOKS if not p.name.startswith("_")}
    assert set(exercises.SOLUTIONS) == stems
    for stem, blanks in exercises.SOLUTIONS.items():
        page = html.unescape(re.sub(r"<[^>]+>", "", (out / f"{stem}.html").read_text()))
        for k in range(1, len(blanks) + 1):
            assert f"Exercise {k}: correct" in page, stem
        assert "not quite" not in page and "not attempted" not in page, stem
        for answer in blanks.values():
            assert answer.splitlines()[-1] in page, (stem, answer)
