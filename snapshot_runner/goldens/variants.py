"""Write goldens from a capture report made on another machine.

The GPU machine captures with torch alone (``snapshot-runner capture --json``;
no syrupy there); this writes that report's goldens here, each case into the
directory the golden test reads (``snapshots/cuda-torch<version>/...`` for GPU
cases), so a later ``pytest`` on a GPU machine checks against them::

    python -m snapshot_runner.goldens.variants reports/gpu-capture.json

The artifacts are normalized again on the way in (every rule is idempotent),
so rules added after the capture apply to its goldens too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from snapshot_runner.capture.case import Case
from snapshot_runner.capture.discovery import discover
from snapshot_runner.capture.normalize import Context, normalize
from snapshot_runner.capture.results import CaptureReport, CaseStatus
from snapshot_runner.goldens.layout import case_dir, case_root, golden_path, read_goldens, write_environment


def write_goldens(report: CaptureReport, cases: Sequence[Case], root: Path) -> list[str]:
    """Write the goldens of every ``ok`` case of ``report``; return one line per case not written.

    Raises ``ValueError`` before writing anything if the report is not canonical
    or holds a name or key that is not one (a key is a file name under ``root``)."""
    if report.normalize != "canonical":
        raise ValueError(f"goldens need a canonical capture, this report is {report.normalize!r}")
    problem = report.problem()
    if problem:
        raise ValueError(f"this report cannot be written as goldens: {problem}")
    torch_version = str(report.environment.get("torch_version", ""))
    by_name = {c.name: c for c in cases}
    skipped = []
    for result in report.cases:
        case = by_name.get(result.name)
        if case is None:
            skipped.append(f"{result.name}: no such case in the cases directory")
            continue
        if result.status != CaseStatus.OK:
            skipped.append(f"{result.name}: {result.status}: {result.error}")
            continue
        case_root_dir = case_root(root, case, torch_version)
        artifacts = {key: normalize(key, text, "canonical", Context()) for key, text in result.artifacts.items()}
        for stale in set(read_goldens(case_root_dir, case)) - set(artifacts):
            golden_path(case_root_dir, case, stale).unlink()
        case_dir(case_root_dir, case).mkdir(parents=True, exist_ok=True)
        for key, text in artifacts.items():
            golden_path(case_root_dir, case, key).write_text(text, encoding="utf-8")
        write_environment(case_root_dir, report.environment, report.user_rules)
    return skipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snapshot_runner.goldens.variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="JSON written by `snapshot-runner capture --json`")
    parser.add_argument("--cases-dir", type=Path, default=Path("cases"))
    parser.add_argument("--snapshots-dir", type=Path, default=Path("snapshots"))
    args = parser.parse_args(argv)
    try:
        report = CaptureReport.from_json(json.loads(args.report.read_text(encoding="utf-8")))
        skipped = write_goldens(report, discover(args.cases_dir).cases, args.snapshots_dir.resolve())
    except OSError as exc:
        print(f"{parser.prog}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"{parser.prog}: error: {args.report}: {exc}", file=sys.stderr)
        return 2
    for line in skipped:
        print(f"not written: {line}", file=sys.stderr)
    written = len(report.cases) - len(skipped)
    print(f"{written} case(s) written from {args.report} ({report.environment.get('device')}, torch {report.environment.get('torch_version')})")
    return 1 if skipped else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
