"""Start-up time of the command line against importing pandas, in the same run.

`chainsight --help`, `chainsight data --help` and `chainsight check` on a three-line
order file each run in a fresh process; the figure is the median of five runs as a
ratio to `python -c "import pandas"` (goal: at most 2).

    python benchmarks/bench_cli.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

RUNS = 5


def seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "orders.csv").write_text("c,t,p,q,u\nc1,2024-01-05,p1,2,10\nc2,2024-01-06,p2,1,9\n"
                                        "c1,2024-02-01,p2,1,9\n")
        (tmp / "shop.yaml").write_text(textwrap.dedent("""\
            orders:
              path: orders.csv
              columns: {customer_id: c, timestamp: t, product_id: p, quantity: q,
                        unit_price: u}
            """))
        base = seconds([py, "-c", "import pandas"])
        cli = [py, "-m", "chainsight.cli"]
        print(f"python -c 'import pandas': {base:.2f} s (the baseline)")
        for name, args in (("--help", ["--help"]), ("data --help", ["data", "--help"]),
                           ("check", ["check", "--mapping", str(tmp / "shop.yaml")])):
            t = seconds(cli + args)
            print(f"chainsight {name}: {t:.2f} s, {t / base:.1f}x the baseline")


if __name__ == "__main__":
    main()
