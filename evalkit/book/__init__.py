"""Stage 4, book: what a profile computes and how the book shows it.

``profile`` / ``profiles`` (the YAML experiment grids), ``plan`` (every configuration a profile needs, computing
and reading them), ``preflight`` (missing data or packages, the compute estimate), ``summary`` (mean ± std tables),
``reference`` (the published numbers), ``claims`` (the paper's findings as checks), ``tables`` and ``figures``
(HTML tables, seaborn figures), ``vggish`` (the VGGish chance-level check), ``pages`` (what each notebook shows),
``rendering`` (what executing the notebooks and building the HTML cost here), ``build`` (``evalkit book``).
Imports ``learn``, ``embed``, ``data`` and ``config``.
"""

#: The book's notebooks in build order, and the sections of :mod:`evalkit.book.plan` each reads (a notebook run on
#: its own computes just these).
NOTEBOOK_SECTIONS = {
    "detailed_results": ("detailed",),
    "results_tables": ("tables", "vggish"),
    "confusion_matrices": ("tables", "detailed"),
    "baseline_models": ("baseline",),
    "learning_curve": ("curve",),
    "reproduction": ("tables",),
    "teaching": ("teaching",),
}
NOTEBOOKS = tuple(NOTEBOOK_SECTIONS)
