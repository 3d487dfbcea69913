"""What rendering the book costs on this machine: its notebooks, each in a kernel of its own, and the HTML.

Rendering only reads stored results and draws tables and figures, so its time is mostly fixed costs: a kernel's
start-up, the imports of pandas, matplotlib and evalkit, a page's figures. It is therefore estimated in units of one
such start-up measured here (:func:`kernel_seconds`: a notebook with the book notebooks' imports and one figure,
executed as the build executes them, once per machine and kept with the calibration's other unit costs): a notebook
costs :data:`NOTEBOOK_KERNELS` start-ups plus :data:`KERNELS_PER_RUN` per configuration it reads, and the HTML build
:data:`HTML_KERNELS`; :data:`NOTEBOOK_WORKERS` notebooks run at a time.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

#: Notebooks executed at the same time: each runs in its own kernel, a process that mostly keeps one core busy.
NOTEBOOK_WORKERS = 2
#: A book notebook's time in kernel start-ups, plus that many per configuration it reads. Measured on 2026-12-07
#: (6e6a7c8) on a 2-core AVX2 machine: the quick profile's 7 notebooks took 9.7–18.1 s each (mean 14.6 s, two at a
#: time, reading 4 to 80 configurations with no visible trend) against a start-up of 4.3 s.
NOTEBOOK_KERNELS, KERNELS_PER_RUN = 3.4, 0.0
#: jupyter-book's HTML build in kernel start-ups (the quick profile's: 8 s).
HTML_KERNELS = 1.9
#: What the measured notebook does: the first cell of every book notebook, and a figure.
_PROBE = ("import io\nimport evalkit as ek\nfrom evalkit.book import display, figures, pages, tables\n"
          "import matplotlib.pyplot as plt\nfigure = plt.figure()\nplt.plot([0, 1])\nfigure.savefig(io.BytesIO())")


def measure_kernel_seconds(*, repeats: int = 2) -> float:
    """Seconds to execute a notebook with the book notebooks' imports and one figure in a fresh kernel, as
    ``evalkit book`` executes its notebooks (papermill, kernel ``python3``): the median of ``repeats`` runs."""
    import nbformat
    import papermill

    times = []
    with tempfile.TemporaryDirectory(prefix="evalkit-kernel-") as folder:
        source, output = Path(folder) / "probe.ipynb", Path(folder) / "out.ipynb"
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(_PROBE)]
        nbformat.write(notebook, str(source))
        for _ in range(int(repeats)):
            started = time.perf_counter()
            papermill.execute_notebook(str(source), str(output), kernel_name="python3", progress_bar=False,
                                       log_output=False, start_timeout=120,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"])
            times.append(time.perf_counter() - started)
    return float(statistics.median(times))


def kernel_seconds(calibration) -> float:
    """This machine's kernel start-up with the book's imports (:func:`measure_kernel_seconds`), measured the first
    time and kept in ``calibration`` (an :class:`~evalkit.learn.calibration.Calibration`)."""
    return calibration.entry("render:kernel", lambda: {"seconds": measure_kernel_seconds()})["seconds"]


def rendering_seconds(calibration, runs_read, *, html: bool = True) -> float:
    """Estimated seconds of executing notebooks that read ``runs_read`` configurations each (one number per
    notebook to run) :data:`NOTEBOOK_WORKERS` at a time, and of the HTML build when ``html``."""
    if not runs_read and not html:
        return 0.0
    kernel = kernel_seconds(calibration)
    notebooks = [kernel * (NOTEBOOK_KERNELS + KERNELS_PER_RUN * int(runs)) for runs in runs_read]
    parallel = sum(notebooks) / max(1, min(NOTEBOOK_WORKERS, len(notebooks))) if notebooks else 0.0
    return parallel + (kernel * HTML_KERNELS if html else 0.0)


def describe_rendering(calibration, runs_read, *, html: bool = True) -> str:
    """The rendering line of an estimate, in the layout of :func:`~evalkit.learn.workload.describe_costs`."""
    from ..learn.workload import duration

    what = f"{len(runs_read)} notebook(s)" + (" and the HTML" if html else "")
    return f"  {'rendering':22s} {what:38s} {duration(rendering_seconds(calibration, runs_read, html=html)):>10s}"
