"""Generation time and peak memory of the synthetic retailer.

Each case runs in its own process so that peak memory (max RSS) is its own.
Figures are compared within the run: time per customer of the streamed `large`
size against the in-memory `default` size (near 1 means generation scales
linearly), and the peak memory of `large` against `default` (near 1 means the
streaming keeps memory flat however many customers there are).

    python benchmarks/bench_generate.py [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CASE = r"""
import json, resource, sys, time
from chainsight import datasets, synthetic
size, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if size == "large":
    path = datasets.write_synthetic(size, 42, out)
    import pyarrow.parquet as pq
    lines = pq.ParquetFile(f"{path}/orders.parquet").metadata.num_rows
else:
    lines = len(synthetic.generate(size, 42).orders)
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"size": size, "customers": synthetic.SIZES[size], "order_lines": lines,
                  "seconds": seconds, "peak_mb": peak_mb}))
"""


def run(size: str, out: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CASE, size, out], capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run("small", tmp), run("default", tmp)]
        if not args.skip_large:
            rows.append(run("large", tmp))
    for r in rows:
        r["us_per_customer"] = 1e6 * r["seconds"] / r["customers"]
        print(f"{r['size']:>8}: {r['customers']:>9,} customers, {r['order_lines']:>11,} lines, "
              f"{r['seconds']:7.1f} s, {r['us_per_customer']:6.1f} us/customer, "
              f"peak {r['peak_mb']:7.0f} MB")
    by = {r["size"]: r for r in rows}
    if "large" in by:
        d, g = by["default"], by["large"]
        time_ratio = g["us_per_customer"] / d["us_per_customer"]
        mem_ratio = g["peak_mb"] / d["peak_mb"]
        print(f"large vs default: time per customer x{time_ratio:.2f}, peak memory "
              f"x{mem_ratio:.2f}, for x{g['customers'] / d['customers']:.0f} the customers")


if __name__ == "__main__":
    main()
