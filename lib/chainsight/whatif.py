"""What-if controls for JupyterLab: a few sliders and a Run button that re-run a
notebook's comparison with the values chosen and show its result below them.

A report run (``CHAINSIGHT_REPORT=1``, see :mod:`chainsight.progress`) builds no controls:
a report keeps the figures computed with its parameters.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from chainsight.progress import REPORT_ENV


def slider(label: str, low: float, high: float, step: float, value: float):
    """A labelled slider for :func:`panel` (``value`` is clipped into the range)."""
    import ipywidgets as w

    if not low < high or step <= 0:
        raise ValueError(f"slider {label!r}: needs low < high and a positive step")
    return w.FloatSlider(value=min(max(float(value), low), high), min=low, max=high,
                         step=step, description=label, continuous_update=False,
                         style={"description_width": "initial"},
                         layout=w.Layout(width="32em"))


def panel(run: Callable[..., None], **controls):
    """Show ``controls`` (name -> a widget from :func:`slider`) and a Run button; each
    press calls ``run(**values)``, whose printed and displayed output replaces the last.
    Returns the panel, or None in a report run."""
    if os.environ.get(REPORT_ENV) == "1":
        return None
    import ipywidgets as w
    from IPython.display import display

    out = w.Output()
    button = w.Button(description="Run", button_style="primary", icon="play")

    def press(_=None):
        button.disabled = True
        out.clear_output()
        with out:
            try:
                run(**{k: c.value for k, c in controls.items()})
            finally:
                button.disabled = False

    button.on_click(press)
    box = w.VBox([*controls.values(), button, out])
    display(box)
    return box
