"""snapshot_runner: golden-graph snapshot regression for torch.compile.

Write a case::

    from snapshot_runner import case

    @case(dynamic=True)
    def my_case():
        return fn, (args...)
"""

from snapshot_runner.capture.case import Case, CaseOptions, case

__all__ = ["Case", "CaseOptions", "__version__", "case"]
__version__ = "0.1.0"
