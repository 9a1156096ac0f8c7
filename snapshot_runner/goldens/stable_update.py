"""``--snapshot-update`` writes only stable goldens.

Before a golden is written (there is none yet, or it differs), the case is
captured once more in a fresh worker that differs from this pytest process in
hash seed, object addresses, import and case order and working directory
(``capture/perturb.py``), and compared with the capture at hand, as
``check-stable`` does. An artifact that differs is not written: the test fails
with one line naming the case, the artifact and the first differing line, and
suggesting a ``normalize`` rule. The other artifacts are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snapshot_runner import stability
from snapshot_runner.capture.case import Case
from snapshot_runner.capture.results import CaptureReport, CaseResult
from snapshot_runner.capture.user_rules import UserRule
from snapshot_runner.capture.worker import CaptureRequest
from snapshot_runner.envs.supervisor import RequestError, WorkerError, run_capture
from snapshot_runner.goldens.layout import golden_path

# The fresh worker is the check's second run; the first is this process's capture.
FRESH_RUN = 2


def to_write(case: Case, captured: CaseResult, root: Path) -> list[str]:
    """The artifacts whose golden is missing or differs: those ``--snapshot-update`` would write."""
    written = []
    for key, text in captured.artifacts.items():
        path = golden_path(root, case, key)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            written.append(key)
    return written


def refusals(
    case: Case, captured: CaseResult, keys: Sequence[str], cases_dir: Path, track: tuple[str, ...], user_rules: tuple[UserRule, ...]
) -> dict[str, str]:
    """Of ``keys`` (artifacts about to be written), those a fresh worker
    captures differently, each with its one-line refusal."""
    if not keys:
        return {}
    request = CaptureRequest(str(cases_dir), (case.name,), track=track, user_rules=user_rules, perturbation=FRESH_RUN)
    try:
        # One case in one worker: a fork template's load and warm-up would be paid on top of it, for nothing.
        fresh = run_capture(None, request, fork=False)
    except (RequestError, WorkerError) as exc:
        return {key: f"{case.name}: not writing {key}: its stability check could not run: {exc}" for key in keys}
    report = stability.compare([CaptureReport(environment={}, cases=[captured]), fresh])
    if report.failed:
        error = report.failed[0].error or report.failed[0].status
        return {key: f"{case.name}: not writing {key}: its stability check's fresh worker failed: {error}" for key in keys}
    return {u.artifact: stability.refusal(u) for u in report.unstable if u.artifact in keys}
