"""The ``chainsight`` command.

    chainsight report --params reports/params/quick.yaml [--notebooks 00,01] [--out DIR]
        [--solutions]
    chainsight data [--size default] [--seed 42] [--effect acquisition_shift=0 ...]
    chainsight check --mapping data/user/my_orders.yaml
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Each command imports what it needs when it runs, so that `chainsight --help` and
# `chainsight check` start fast (the report pipeline pulls in nbformat and papermill).


def _report(args) -> int:
    from chainsight import datasets, report

    params = report.load_params(args.params)
    root = datasets.PROJECT_ROOT
    out = Path(args.out) if args.out else root / "reports" / (
        params.name + ("-solutions" if args.solutions else ""))
    select = tuple(n.strip().zfill(2) for n in args.notebooks.split(",")) if args.notebooks \
        else None
    results = report.run_reports(params, Path(args.notebooks_dir or root / "notebooks"), out,
                                 select=select, jobs=args.jobs, solutions=args.solutions)
    failed = [r.notebook for r in results if r.status != "ok"]
    print(f"Index: {out / 'index.html'}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _effects(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--effect {pair!r}: expected NAME=STRENGTH, e.g. "
                             "acquisition_shift=0")
    return out


def _data(args) -> int:
    from chainsight import datasets

    t0 = time.perf_counter()
    path = datasets.write_synthetic(args.size, args.seed, effects=_effects(args.effect))
    print(f"Synthetic retailer '{args.size}' (seed {args.seed}) written to {path} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


def _check(args) -> int:
    from chainsight import datasets, readiness

    ds = datasets.load_mapped(args.mapping)
    print(datasets.table_summary(ds).to_string(index=False))
    print()
    print(ds.ledger.to_frame().to_string(index=False))
    for note in ds.ledger.notes:
        print(f"Note: {note}")
    print()
    for notebooks, weeks, monday in (("00, 01, 04, 05", 52, False), ("03", 26, True)):
        try:
            line = readiness.holdout_start(ds.orders, "", weeks, monday).sentence
        except ValueError as err:
            line = f"cannot run: {err}"
        print(f"Notebooks {notebooks} with holdout_start left empty: {line}")
    print()
    print("What each notebook can do with this data:")
    for row in readiness.table(ds).itertuples():
        print(f"  {row.notebook}  {row.status}" + (f": {row.why}" if row.why else ""))
        if row.fix:
            print(f"        mapping that adds it: {row.fix}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainsight", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="run notebooks into HTML reports")
    p.add_argument("--params", required=True, help="parameter set, e.g. reports/params/quick.yaml")
    p.add_argument("--notebooks", help="comma-separated notebook numbers, e.g. 00,01")
    p.add_argument("--out", help="output folder (default reports/<parameter set name>)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default 1)")
    p.add_argument("--solutions", action="store_true",
                   help="a facilitator's copy: exercises filled with their worked solutions "
                        "and kept in the pages (default out: reports/<set>-solutions)")
    p.add_argument("--notebooks-dir", help=argparse.SUPPRESS)
    p.set_defaults(func=_report)
    p = sub.add_parser("data", help="generate the synthetic retailer into data/generated/")
    p.add_argument("--size", default="default", help="small, default or large")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--effect", action="append", default=[], metavar="NAME=STRENGTH",
                   help="strength of an injected effect (0 = off, 1 = default); repeatable")
    p.set_defaults(func=_data)
    p = sub.add_parser("check", help="load your data through a YAML mapping and show the ledger")
    p.add_argument("--mapping", required=True)
    p.set_defaults(func=_check)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as err:  # DataContractError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
