"""The report pipeline and the metric recorder.

:func:`run_reports` executes notebooks with papermill (kernel ``python3``), passing
each notebook only the parameters it declares, exports each to HTML without
code, and writes ``index.html`` and ``metrics.json`` for the run.

Inside a notebook, :func:`record` stores a named value. The value lands in the
executed notebook as an output of a private MIME type (invisible in HTML), from
which the runner collects ``metrics.json``; tests and the dashboard read that.
"""

from __future__ import annotations

import copy
import html
import json
import math
import os
import platform
import re
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import yaml

if TYPE_CHECKING:
    import pandas as pd

METRIC_MIME = "application/vnd.chainsight.metrics+json"
LEDGER_KEY = "data_ledger"
KERNEL = "python3"
# The kernel's own start-up notes (such as ipykernel's warning that a local kernel talks
# over TCP) would print into the user's terminal with every notebook; errors still do.
KERNEL_QUIET = ["--IPKernelApp.log_level=ERROR"]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---------------------------------------------------------------------------
# Recording metrics from a notebook
# ---------------------------------------------------------------------------
def _jsonable(value):
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    raise TypeError(f"metric values must be numbers, text, lists or dicts, not {type(value)}")


def record(name: str, value):
    """Record a named value from a notebook; returns the value unchanged."""
    from IPython.display import display

    display({METRIC_MIME: {name: _jsonable(value)}}, raw=True)
    return value


SKIPPED_KEY = "skipped"
SKIP_WITH = "skip_with"  # cell metadata: the section whose skip removes the cell from reports
TAKEAWAYS_KEY = "takeaways"
_skipped: dict[str, str] = {}


def skip(section: str, reason: str) -> str:
    """Say that a section cannot run on this data, and record it as skipped.

    Prints ``Skipped (section): reason`` (a reason from ``Dataset.absent`` loses its
    own "Skipped: " prefix) and records every section skipped so far
    under ``"skipped"``, so that :func:`takeaways` can refuse a takeaway about it and
    tests can check the report never states a result for a section that did not run.
    Returns the printed line.
    """
    section, reason = str(section), str(reason).strip().removeprefix("Skipped: ")
    if not section or not reason:
        raise ValueError("skip needs a section name and a reason")
    _skipped[section] = reason
    record(SKIPPED_KEY, dict(_skipped))
    line = f"Skipped ({section}): {reason}"
    print(line)
    return line


def takeaways(by_section) -> None:
    """Print the key takeaways, each under the section whose figures it states.

    Parameters
    ----------
    by_section : mapping of str to str, list of str or None
        Section name to its computed sentence(s); None or an empty list means the
        section has nothing to state in this run.

    Raises
    ------
    ValueError
        If a takeaway is given for a section that :func:`skip` reported as skipped in
        this kernel: the report would state a result for a section that did not run.

    The takeaways are recorded under ``"takeaways"`` as ``{section: [sentences]}``.
    """
    out: dict[str, list[str]] = {}
    for section, lines in by_section.items():
        if lines is None:
            continue
        lines = [lines] if isinstance(lines, str) else [str(s) for s in lines]
        if not lines:
            continue
        if str(section) in _skipped:
            raise ValueError(f"a takeaway is given for section {section!r}, which was "
                             f"skipped: {_skipped[str(section)]}")
        out[str(section)] = lines
    record(TAKEAWAYS_KEY, out)
    printed = [s for lines in out.values() for s in lines]
    print("\n".join("- " + s for s in printed))


def record_ledger(ledger) -> None:
    """Record the data ledger (a :class:`chainsight.schema.Ledger`)."""
    record(LEDGER_KEY, ledger.to_frame().to_dict(orient="records"))


def record_versions() -> dict:
    """Record the versions of Python and the main libraries, and the kernel's peak
    resident memory so far (:data:`PEAK_MEMORY_KEY`, GB; every notebook calls this last)."""
    import importlib.metadata as md
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    record(PEAK_MEMORY_KEY, round(peak_kb / 1024**2, 2))

    pkgs = ["chainsight", "numpy", "pandas", "scipy", "scikit-learn", "statsforecast",
            "ortools", "duckdb", "pandera", "papermill"]
    versions = {"python": platform.python_version()}
    for p in pkgs:
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    return record("versions", versions)


def read_metrics(nb) -> dict:
    """All values recorded in an executed notebook (later records win)."""
    out: dict = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if METRIC_MIME in data:
                payload = data[METRIC_MIME]
                out.update(json.loads(payload) if isinstance(payload, str) else payload)
    return out


# ---------------------------------------------------------------------------
# The run's comparisons, for the cockpit (notebook 08) and the index
# ---------------------------------------------------------------------------
_PAIRED_KEYS = {"metric", "unit", "blind", "aware", "difference", "lo", "hi", "verdict",
                "lower_is_better"}
# A recorded comparison whose name or measure holds one of these words checks the method
# (a placebo, an effect switched off) rather than making a decision ...
CONTROL_WORDS = ("placebo", "control", "effects off", "response off")
# ... or sets the profile beside something other than the strongest blind baseline (a
# strawman, a gain both sides get without segments).
BESIDE_WORDS = ("strawman", "without segments")
HOLDOUT_KEY = "holdout_start"
CURRENCY_KEY = "currency"  # the data's currency, which each notebook records
PEAK_MEMORY_KEY = "peak_memory_gb"  # the kernel's peak resident memory, recorded at the end
REPORT_DIR_PARAM = "report_dir"  # the run's folder, given to the notebook that sums it up
COMPARISON_COLUMNS = ["notebook", "decision", "role", "metric", "unit", "n_units", "blind",
                      "aware", "difference", "lo", "hi", "level", "verdict",
                      "lower_is_better", "judged_from"]


def comparisons(runs: dict[str, dict]) -> pd.DataFrame:
    """Every profile-blind against profile-aware comparison recorded in a run: one row per
    :meth:`chainsight.compare.Paired.as_dict` found anywhere in a notebook's metrics
    (``runs``: notebook name -> its metrics), named by where it was recorded (``campaigns
    › placebo``), with its role (``decision``; ``control`` for a placebo or an effect
    switched off, :data:`CONTROL_WORDS`; ``beside`` for a strawman or a gain without
    segments, :data:`BESIDE_WORDS`) and the day the notebook's holdout starts, when it
    recorded one (:data:`HOLDOUT_KEY`)."""
    import pandas as pd

    rows = []

    def walk(notebook: str, path: list[str], value, judged) -> None:
        if isinstance(value, dict) and _PAIRED_KEYS <= set(value):
            name = " › ".join(path).replace("_", " ")
            words = f"{name} {value.get('metric', '')}".lower()
            role = ("beside" if any(w in words for w in BESIDE_WORDS)
                    else "control" if any(w in words for w in CONTROL_WORDS) else "decision")
            rows.append({"notebook": notebook, "decision": name, "role": role,
                         "judged_from": judged,
                         **{k: value.get(k) for k in COMPARISON_COLUMNS
                            if k in value}})
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(notebook, [*path, str(k)], v, judged)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(notebook, [*path, str(i + 1)], v, judged)

    for notebook, metrics in runs.items():
        judged = metrics.get(HOLDOUT_KEY)
        for key, value in metrics.items():
            if key not in (LEDGER_KEY, "versions", TAKEAWAYS_KEY, SKIPPED_KEY, HOLDOUT_KEY,
                           CURRENCY_KEY):
                walk(notebook, [key], value, judged)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


# How a measure reads, from the words of its name: a share (in %, its difference in
# points), money (with the currency), days or km; anything else is a plain number.
_SHARE_WORDS = ("wape", "rate", "share", "on time", "next day", "within the window")
_MONEY_WORDS = ("cost", "margin", "value", "clv", "revenue")


def measure_kind(metric: str) -> str:
    """'share', 'money', 'days', 'km' or 'number', for :func:`readable`."""
    m = str(metric).lower()
    if any(w in m for w in _SHARE_WORDS):
        return "share"
    if any(w in m for w in _MONEY_WORDS):
        return "money"
    return "days" if "days" in m and "purchase days" not in m else (
        "km" if "km" in m else "number")


def _number(v: float, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if abs(v) >= 1000:
        return f"{v:{sign},.0f}"
    return f"{v:{sign},.2f}" if abs(v) >= 1 else f"{v:{sign}.3g}"


def plural(unit: str, n: int) -> str:
    """``1,765 customers``, ``32 origin x weeks``, ``7 customers in the audience``."""
    head, sep, tail = str(unit).partition(" in ")
    word = head.rsplit(" ", 1)
    last = word[-1]
    if n != 1 and last and not last.endswith("s"):
        last = last[:-1] + "ies" if last.endswith("y") and last[-2:-1] not in "aeiou" else (
            last + "s")
    return f"{n:,} " + " ".join([*word[:-1], last]) + sep + tail


def readable(table: pd.DataFrame, currency: str = "") -> pd.DataFrame:
    """Comparisons from :func:`comparisons` as a planner reads them: both sides and the
    difference with its interval in the measure's own terms (:func:`measure_kind`: 82.0%
    and points, money with ``currency`` and thousands separators), the verdict, and what
    the pairing was over."""
    import numpy as np
    import pandas as pd

    rows = []
    for r in table.itertuples():
        kind = measure_kind(r.metric)
        vals = [float(x) if x is not None else np.nan
                for x in (r.blind, r.aware, r.difference, r.lo, r.hi)]
        if kind == "share":
            side = [f"{v:.1%}" for v in vals[:2]]
            diff = [f"{100 * v:+.1f}" for v in vals[2:]]
            unit = " points"
        else:
            after = {"money": f" {currency}" if currency else "", "days": " days",
                     "km": " km"}.get(kind, "")
            side = [_number(v) + after for v in vals[:2]]
            diff = [_number(v, signed=True) for v in vals[2:]]
            unit = after
        level = f"{float(r.level):.0%} " if r.level is not None and r.level == r.level else ""
        rows.append({"notebook": str(r.notebook)[:2], "decision": r.decision,
                     "measure": r.metric, "profile-blind": side[0], "profile-aware": side[1],
                     "difference (interval)": f"{diff[0]}{unit} ({level}{diff[1]} to {diff[2]})",
                     "verdict": r.verdict, "judged over": plural(r.unit, int(r.n_units)),
                     "holdout from": r.judged_from or ""})
    return pd.DataFrame(rows, columns=["notebook", "decision", "measure", "profile-blind",
                                       "profile-aware", "difference (interval)", "verdict",
                                       "judged over", "holdout from"])


def run_currency(runs: dict[str, dict]) -> str:
    """The currency the run's notebooks recorded ('' when none did)."""
    return next((m[CURRENCY_KEY] for m in runs.values() if m.get(CURRENCY_KEY)), "")


def profile_gain(table: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as the profile's relative gain over the blind side (positive: the
    profile did better, whichever way the measure points), with the interval likewise;
    none where the blind side is zero."""
    import numpy as np

    t = table.copy()
    sign = np.where(t["lower_is_better"].astype(bool), -1.0, 1.0)
    base = t["blind"].abs().astype(float).where(t["blind"].astype(float) != 0)
    lo, hi = t["lo"].astype(float) * sign / base, t["hi"].astype(float) * sign / base
    t["gain"] = t["difference"].astype(float) * sign / base
    t["gain_lo"], t["gain_hi"] = np.minimum(lo, hi), np.maximum(lo, hi)
    return t


def run_status(executed) -> dict:
    """Status and duration of an executed notebook, from papermill's record in it."""
    meta = executed.metadata.get("papermill", {})
    failed = bool(meta.get("exception"))
    return {"status": "failed" if failed else "ok", "seconds": meta.get("duration")}


def read_run(folder: Path, exclude: tuple[str, ...] = ()) -> dict[str, dict]:
    """The executed notebooks of a report folder (``NN_name.ipynb``, in order), each as
    ``{"status", "seconds", "metrics"}``; ``exclude``: notebook names to leave out (the
    one reading)."""
    out = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        if path.stem in exclude:
            continue
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = {**run_status(nb), "metrics": read_metrics(nb)}
    return out


def latest_run(root: Path) -> Path | None:
    """The report folder under ``root`` (``reports/``) written last, or None."""
    runs = [p.parent for p in Path(root).glob("*/[0-9][0-9]_*.ipynb")]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


# ---------------------------------------------------------------------------
# Parameter sets
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSet:
    name: str
    parameters: dict
    notebooks: tuple[str, ...] | None = None  # None: every notebook
    description: str = ""


def load_params(path: str | Path) -> ParamSet:
    """Read a parameter set: ``name``, ``description``, ``notebooks`` (optional list
    of numbers such as "00"), ``parameters`` (the values notebooks may declare)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"parameter set not found: {path}")
    spec = yaml.safe_load(path.read_text()) or {}
    if not isinstance(spec.get("parameters", {}), dict):
        raise ValueError(f"{path}: 'parameters' must be a mapping of name: value")
    nbs = spec.get("notebooks")
    # str(): YAML reads names such as "off" or "yes" as booleans.
    return ParamSet(str(spec.get("name", path.stem)), spec.get("parameters", {}),
                    tuple(str(n).zfill(2) for n in nbs) if nbs else None,
                    str(spec.get("description", "")))


def find_notebooks(folder: Path, select: tuple[str, ...] | None = None) -> list[Path]:
    """Notebooks ``NN_name.ipynb`` in learning order, optionally only numbers in ``select``."""
    found = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if select is None:
        return found
    chosen = [p for p in found if p.name[:2] in select]
    missing = set(select) - {p.name[:2] for p in chosen}
    if missing:
        raise ValueError(f"no notebook numbered {sorted(missing)} in {folder}")
    return chosen


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------
@dataclass
class NotebookResult:
    notebook: str
    status: str  # "ok" or "failed"
    seconds: float
    parameters: dict
    metrics: dict = field(default_factory=dict)
    error: str = ""
    html: str = ""


def execute_one(path: Path, parameters: dict, out_dir: Path, solutions: bool = False
                ) -> NotebookResult:
    """Execute one notebook and export it to HTML without code; never raises. With
    ``solutions``, the exercises are filled with their worked solutions
    (:func:`chainsight.exercises.with_solutions`) and kept in the page."""
    import tempfile

    import papermill as pm

    from chainsight import exercises

    path = Path(path)
    stem = path.stem
    executed = out_dir / f"{stem}.ipynb"
    declared = pm.inspect_notebook(str(path))
    passed = {k: v for k, v in parameters.items() if k in declared}
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = path
            if solutions:
                source = Path(tmp) / path.name
                nbformat.write(exercises.with_solutions(nbformat.read(path, as_version=4),
                                                        stem), source)
            pm.execute_notebook(str(source), str(executed), parameters=passed,
                                kernel_name=KERNEL, cwd=str(path.parent), progress_bar=False,
                                log_output=False, extra_arguments=KERNEL_QUIET)
    except pm.PapermillExecutionError as err:
        return NotebookResult(stem, "failed", time.perf_counter() - t0, passed,
                              _metrics_of(executed), f"{err.ename}: {err.evalue}")
    except Exception as err:  # kernel died, notebook unreadable, ...
        return NotebookResult(stem, "failed", time.perf_counter() - t0, passed, {},
                              "".join(traceback.format_exception_only(err)).strip())
    seconds = time.perf_counter() - t0
    nb = nbformat.read(executed, as_version=4)
    (out_dir / f"{stem}.html").write_text(export_html(nb, solutions), encoding="utf-8")
    return NotebookResult(stem, "ok", seconds, passed, read_metrics(nb), "", f"{stem}.html")


def _metrics_of(executed: Path) -> dict:
    try:
        return read_metrics(nbformat.read(executed, as_version=4))
    except (OSError, ValueError):
        return {}


TEMPLATES = Path(__file__).parent / "templates"  # the report page: templates/chainsight
_BLOCK_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]+?)(?<=\S)\$(?!\$)")

# The report page's own style, after JupyterLab's: prose and printed sentences in a
# proportional font that wraps between words; Chinese from the first CJK font present;
# wide tables scroll in their own box, so the page itself never scrolls sideways.
REPORT_CSS = """
body, .jp-RenderedHTMLCommon, .jp-OutputArea-output pre {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC",
    "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
    sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 0 1em; box-sizing: border-box; }
.jp-OutputArea-output pre { white-space: pre-wrap; word-break: normal;
  overflow-wrap: anywhere; font-size: 0.95em; line-height: 1.45; }
.jp-RenderedHTMLCommon table { display: block; max-width: 100%; overflow-x: auto; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
math[display="block"] { margin: 0.6em 0; overflow-x: auto; max-width: 100%; font-size: 1.15em;
  math-style: normal; }
"""


def markdown_math_to_mathml(source: str) -> str:
    """A markdown cell with its LaTeX (``$$...$$`` as a block, ``$...$`` inline) as
    MathML, which browsers draw without a script; a formula latex2mathml cannot read is
    an error naming it."""
    from latex2mathml.converter import convert

    def to(display):
        def sub(m):
            tex = m.group(1).strip()
            try:
                return convert(tex, display=display)
            except Exception as err:  # the converter raises its own assorted errors
                raise ValueError(f"the formula ${tex}$ cannot be drawn as MathML: "
                                 f"{err}") from None
        return sub

    return _INLINE_MATH.sub(to("inline"), _BLOCK_MATH.sub(to("block"), source))


def export_html(nb, solutions: bool = False) -> str:
    """HTML of an executed notebook without code cells, prompts or exercise cells:
    self-contained (:data:`TEMPLATES`), formulas as MathML. With ``solutions`` (a
    facilitator's copy) the exercises stay, each code cell shown above its output."""
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_markdown_cell
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = (
        ("remove-from-report",) if solutions else ("exercise", "remove-from-report"))
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c, template_name="chainsight",
                            extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = copy.deepcopy(nb)
    # A section the notebook skipped keeps its one skip line and loses its method prose:
    # markdown cells marked {"skip_with": section} in their metadata.
    skipped = set(read_metrics(nb).get(SKIPPED_KEY) or {})
    nb.cells = [c for c in nb.cells if c.metadata.get(SKIP_WITH) not in skipped]
    for cell in nb.cells:  # recorded metrics are for metrics.json, not for readers
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if METRIC_MIME not in o.get("data", {})]
        elif cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source)
    if solutions:  # the exercise code (the worked solution) above what it printed
        cells = []
        for cell in nb.cells:
            if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
                cells.append(new_markdown_cell(f"```python\n{cell.source}\n```",
                                               metadata={"tags": ["exercise"]}))
            cells.append(cell)
        nb.cells = cells
    body, _ = exporter.from_notebook_node(nb, resources={"chainsight_css": REPORT_CSS})
    return body


@contextmanager
def _thread_cap(jobs: int):
    """Share the cores among the notebooks that run at once, with or without ``--jobs``:
    each notebook's numeric libraries (OpenMP, BLAS) would otherwise start a thread per
    core, and oversubscribed OpenMP threads spin and stall. A value the user set wins."""
    threads = str(max(1, (os.cpu_count() or 1) // max(jobs, 1)))
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    for var in _THREAD_VARS:
        os.environ.setdefault(var, threads)
    try:
        yield threads
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextmanager
def _report_mode():
    """Tell the notebooks' kernels that they run for a report: no progress bars
    (:mod:`chainsight.progress`)."""
    from chainsight.progress import REPORT_ENV

    saved = os.environ.get(REPORT_ENV)
    os.environ[REPORT_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(REPORT_ENV, None)
        else:
            os.environ[REPORT_ENV] = saved


def _report_file(path: Path) -> bool:
    """A file a report run writes: NN_name.ipynb / .html, index.html, metrics.json."""
    if path.name in ("index.html", "metrics.json"):
        return path.is_file()
    return path.is_file() and path.suffix in (".ipynb", ".html") and path.name[:2].isdigit() \
        and path.name[2:3] == "_"


def clear_report_dir(out_dir: Path) -> None:
    """Make ``out_dir`` an empty folder for one run. Only an earlier run's files are
    removed; a folder that holds anything else (your data, say) is refused, never
    emptied."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file, not a folder")
    if out_dir.exists():
        other = sorted(p.name for p in out_dir.iterdir() if not _report_file(p))
        if other:
            shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5
                                            else "")
            raise ValueError(f"--out {out_dir} holds files that are not a report ({shown}); "
                             "choose a new folder or an earlier report's folder")
        for path in out_dir.iterdir():
            path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def run_reports(params: ParamSet, notebooks_dir: Path, out_dir: Path,
                select: tuple[str, ...] | None = None, jobs: int = 1,
                progress: Callable[[str], None] = print, solutions: bool = False
                ) -> list[NotebookResult]:
    """Run the selected notebooks into ``out_dir`` and write its index; with
    ``solutions``, a facilitator's copy with the exercises worked (:func:`execute_one`).

    ``out_dir`` holds exactly one run: an earlier run's pages are removed first, so
    nothing from it is left looking current (:func:`clear_report_dir`). A notebook that
    declares the parameter ``report_dir`` (the cockpit) sums up the run: it is given
    ``out_dir`` and runs after the others.
    """
    import papermill as pm

    paths = find_notebooks(notebooks_dir, select or params.notebooks)
    summing = [p for p in paths if REPORT_DIR_PARAM in pm.inspect_notebook(str(p))]
    paths = [p for p in paths if p not in summing] + summing
    parameters = {**params.parameters, REPORT_DIR_PARAM: str(Path(out_dir).resolve())}
    clear_report_dir(out_dir)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    total = len(paths)
    results: list[NotebookResult] = []
    progress(f"Running {total} notebook(s) with parameter set '{params.name}' into {out_dir}")

    def report(i: int, r: NotebookResult) -> None:
        msg = f"[{i}/{total}] {r.notebook}: {r.status}, {cost(r)}"
        progress(msg + (f"  ({r.error.splitlines()[0][:200]})" if r.error else ""))

    with _thread_cap(jobs if total > 1 else 1), _report_mode():
        first = [p for p in paths if p not in summing]
        if jobs > 1 and len(first) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(execute_one, p, parameters, out_dir, solutions)
                           for p in first]
                for i, f in enumerate(futures, start=1):
                    results.append(f.result())
                    report(i, results[-1])
        for i, p in enumerate(paths, start=1):
            if i <= len(results):
                continue
            progress(f"[{i}/{total}] {p.stem}: running ...")
            results.append(execute_one(p, parameters, out_dir, solutions))
            report(i, results[-1])
    (out_dir / "metrics.json").write_text(json.dumps(
        {"parameter_set": params.name, "started": started,
         "notebooks": {r.notebook: asdict(r) for r in results}}, indent=2))
    (out_dir / "index.html").write_text(render_index(params, results, started),
                                        encoding="utf-8")
    return results


# ---------------------------------------------------------------------------
# index.html
# ---------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",
"Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222}
details{margin:.4em 0} summary{cursor:pointer;font-weight:bold}
td ul{margin:0;padding-left:1.2em}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5em 0 1.5em} td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top} th{background:#f4f4f4}
.ok{color:#1a7f37;font-weight:bold} .failed{color:#c62828;font-weight:bold}
.skipped{color:#666}
.better{color:#1a7f37;font-weight:bold} .worse{color:#c62828;font-weight:bold}
.wide{overflow-x:auto;max-width:100%}
"""


def cockpit_table(runs: dict[str, dict]) -> str:
    """The cockpit's headline as HTML: every decision the run judged, profile-blind
    against profile-aware (:func:`readable`), with the verdict; '' when the run recorded
    none."""
    table = comparisons(runs)
    table = table[table["role"] == "decision"]
    if table.empty:
        return ""
    shown = readable(table, run_currency(runs))
    rows = []
    for r in shown.to_dict(orient="records"):
        cls = {"better": " class='better'", "worse": " class='worse'"}.get(r["verdict"], "")
        rows.append("<tr>" + "".join(
            f"<td{cls if k == 'verdict' else ''}>{html.escape(str(v))}</td>"
            for k, v in r.items()) + "</tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    counts = table["verdict"].value_counts()
    return (f"<h2>Profile-blind against profile-aware</h2><p>{len(table)} decisions judged: "
            f"the profile did better in {counts.get('better', 0)}, worse in "
            f"{counts.get('worse', 0)}, and made no measurable difference in "
            f"{counts.get('no measurable difference', 0)}.</p>"
            f"<div class='wide'><table><tr>{head}</tr>{''.join(rows)}</table></div>")


def _fmt(v) -> str:
    return html.escape(_readable(v))


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>"


def status_label(r: NotebookResult) -> str:
    """'ok', 'ok, 2 sections skipped' or 'failed': a notebook that skipped its sections
    is not shown as plainly ok."""
    skipped = len(r.metrics.get(SKIPPED_KEY) or {}) if r.status == "ok" else 0
    return r.status + (f", {skipped} section{'s' if skipped > 1 else ''} skipped"
                       if skipped else "")


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>{body}</details>"


def cost(r: NotebookResult) -> str:
    """What a notebook took: its wall time and, once it ran to the end, its kernel's peak
    memory."""
    peak = r.metrics.get(PEAK_MEMORY_KEY)
    return f"{r.seconds:.1f} s" + (f", peak memory {peak:.1f} GB" if peak is not None else "")


def render_index(params: ParamSet, results: list[NotebookResult], started: str) -> str:
    """The run's first page: the cockpit's table, then one row per notebook (status,
    duration, its takeaways and skips, and the error of a failed one), then the run's
    details folded away: parameters, the data ledger (once, when every notebook read the
    same rows) and each notebook's key metrics."""
    n_failed = sum(r.status != "ok" for r in results)
    summary = (f"{len(results) - n_failed} of {len(results)} notebook(s) ran"
               + (f"; <span class='failed'>{n_failed} failed</span>" if n_failed else ""))
    rows = []
    for r in results:
        link = (f"<a href='{html.escape(r.html)}'>{html.escape(r.notebook)}</a>" if r.html
                else html.escape(r.notebook))
        said = r.metrics.get(TAKEAWAYS_KEY) or {}
        items = [f"<li>{html.escape(line)}</li>" for lines in said.values() for line in lines]
        items += [f"<li class='skipped'>Skipped ({html.escape(k)}): {html.escape(v)}</li>"
                  for k, v in (r.metrics.get(SKIPPED_KEY) or {}).items()]
        if r.error:
            items.append(f"<li class='failed'>Error: {html.escape(r.error)} (no HTML report; "
                         "the executed notebook with the error is in this folder)</li>")
        rows.append(f"<tr><td>{link}</td><td class='{r.status}'>{status_label(r)}</td>"
                    f"<td>{cost(r)}</td><td><ul>{''.join(items)}</ul></td></tr>")
    overview = ("<h2>Notebooks</h2><div class='wide'><table><tr><th>notebook</th>"
                "<th>status</th><th>duration</th><th>key takeaways</th></tr>"
                + "".join(rows) + "</table></div>")
    details = []
    shared = {k: v for r in results for k, v in r.parameters.items()}
    if shared:
        details.append(_details("Parameters", _table(
            [{"parameter": k, "value": v} for k, v in shared.items()],
            ["parameter", "value"])))
    ledgers = {json.dumps(r.metrics.get(LEDGER_KEY), sort_keys=True, default=str): r
               for r in results if r.metrics.get(LEDGER_KEY)}
    for key, r in ledgers.items():
        name = "Data ledger" + (f" ({html.escape(r.notebook)})" if len(ledgers) > 1 else "")
        details.append(_details(name, _table(json.loads(key),
                                             ["table", "outcome", "reason", "rows"])))
    for r in results:
        keys = [k for k in r.metrics if k not in (LEDGER_KEY, "versions", TAKEAWAYS_KEY,
                                                  SKIPPED_KEY, CURRENCY_KEY, PEAK_MEMORY_KEY)]
        if keys:
            details.append(_details(f"Key metrics: {html.escape(r.notebook)}", _table(
                [{"metric": k.replace("_", " "), "value": _short(r.metrics[k])}
                 for k in keys], ["metric", "value"])))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Chainsight reports: {html.escape(params.name)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>Chainsight reports</h1><p class='sub'>Parameter set "
            f"<b>{html.escape(params.name)}</b> · started {started} · {summary}</p>"
            f"<p>{html.escape(params.description)}</p>"
            f"{cockpit_table({r.notebook: r.metrics for r in results})}"
            f"{overview}<h2>Run details</h2>{''.join(details)}</body></html>")


def _readable(v) -> str:
    """A recorded value in words for the index: numbers at 4 significant digits,
    mappings as ``key: value`` pairs, lists comma-separated."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "none"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return "; ".join(f"{k}: ({_readable(x)})" if isinstance(x, dict) else
                         f"{k}: {_readable(x)}" for k, x in v.items()) or "none"
    if isinstance(v, list):
        return ", ".join(_readable(x) for x in v) or "none"
    return str(v)


def _short(v) -> str:
    """:func:`_readable`, cut at 200 characters (metrics.json holds every value)."""
    s = _readable(v)
    return s if len(s) <= 200 else s[:197] + "..."
