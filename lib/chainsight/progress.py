"""Progress bars for the steps that take more than a few seconds.

In JupyterLab a bar (tqdm's widget, with ipywidgets), in a terminal a line of text, and in
a report run none: the report pipeline sets ``CHAINSIGHT_REPORT=1``, since a report shows
results, not how long they took to compute.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

REPORT_ENV = "CHAINSIGHT_REPORT"


def bar(iterable: Iterable, desc: str, total: int | None = None, unit: str = "step"):
    """``iterable`` with a progress bar named ``desc`` (cleared when it is done)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False,
                disable=os.environ.get(REPORT_ENV) == "1")
