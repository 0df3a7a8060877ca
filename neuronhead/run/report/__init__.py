"""The report of a ``neuronhead run``: its sections, its document model (Markdown and HTML) and its
plots of the data."""

from neuronhead.run.report.sections import write_report

__all__ = ["write_report"]
