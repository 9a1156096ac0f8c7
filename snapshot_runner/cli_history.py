"""The history commands of ``snapshot-runner``: record, runs, drift, history.

They open the database (``--db URL``, ``$SNAPSHOT_RUNNER_DB`` or
``db/history.sqlite``) and turn its problems into one-line errors.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .cli import EXIT_CASE_FAILED, EXIT_OK, CliError, Interrupted, _report_failures, add_run_options, add_target_options, capture_report
from .results import CaptureReport, CaseResult, status_summary
from .worker import CaptureStart

EXIT_DRIFT = 1


def add_commands(sub: argparse._SubParsersAction, selection: Callable[[argparse.ArgumentParser], None], debug: Callable[[argparse.ArgumentParser], None]) -> dict[str, Callable[..., int]]:  # type: ignore[type-arg]
    def db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, metavar="URL", help="SQLAlchemy URL (default: $SNAPSHOT_RUNNER_DB or sqlite:///db/history.sqlite)")

    p_record = sub.add_parser("record", help="capture the selected cases and store them as one run")
    selection(p_record)
    db(p_record)
    p_record.add_argument("--label", default=None, help="a name for the run (e.g. nightly-2026-11-27)")
    p_record.add_argument("--from-json", default=None, metavar="PATH", help="store a `capture --json` report made elsewhere instead of capturing")
    add_run_options(p_record)
    add_target_options(p_record)

    p_runs = sub.add_parser("runs", help="list recorded runs, newest first")
    debug(p_runs)
    db(p_runs)

    p_drift = sub.add_parser("drift", help="what changed between two runs, or a run and the goldens")
    debug(p_drift)
    db(p_drift)
    p_drift.add_argument("--from", dest="ref_from", required=True, metavar="REF", help="run id, label, torch version, latest, previous or golden")
    p_drift.add_argument("--to", dest="ref_to", default=None, metavar="REF", help="as --from; leave it out with --python/--torch to compare with a fresh capture")
    p_drift.add_argument("--format", choices=("md", "html", "json"), default="md")
    p_drift.add_argument("--out", default=None, metavar="PATH", help="write the report here (default: stdout)")
    p_drift.add_argument("--snapshots-dir", default="snapshots", help="the goldens REF 'golden' means (default: snapshots)")
    p_drift.add_argument("--include-incomplete", action="store_true", help="let REFs name incomplete runs")
    p_drift.add_argument("--fail-on-drift", action="store_true", help="exit 1 when anything changed")
    p_drift.add_argument("--matrix-runs", type=int, default=20, metavar="N", help="HTML: the cases × runs grid shows the last N complete runs (default: 20)")
    p_drift.add_argument("-k", dest="substring", default=None, metavar="SUBSTRING", help="only cases whose name contains it")
    p_drift.add_argument("--case", action="append", default=[], metavar="NAME", help="only this case (repeatable; with --python/--torch, the cases captured)")
    p_drift.add_argument("--cases-dir", default="cases", help="with --python/--torch: directory of case modules (default: cases)")
    add_target_options(p_drift)

    p_history = sub.add_parser("history", help="the distinct versions of one case's artifact over time")
    debug(p_history)
    db(p_history)
    p_history.add_argument("name", help="case name")
    p_history.add_argument("artifact", nargs="?", help="artifact key (default: every key of the case)")
    p_history.add_argument("--include-incomplete", action="store_true")
    p_history.add_argument("--show", type=int, default=None, metavar="N", help="print the text of version N (vN) of ARTIFACT")
    return {"record": cmd_record, "runs": cmd_runs, "drift": cmd_drift, "history": cmd_history}


@contextlib.contextmanager
def open_store(url: str | None, *, create: bool = False) -> Iterator:  # type: ignore[type-arg]
    """The history database for a command; only commands that write may create it."""
    # Imported here: `capture` on a GPU box runs this CLI without SQLAlchemy.
    from sqlalchemy.exc import SQLAlchemyError

    from .store import Store, StoreError

    try:
        store = Store.open(url, create=create)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        yield store
    except SQLAlchemyError as exc:  # a database that fails after it opened: locked, gone, refused
        raise CliError(f"{store.url}: {type(exc).__name__}: {str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]}") from None
    finally:
        store.close()


def _load_report(path: str) -> CaptureReport:
    """A ``capture --json`` report, checked before anything is stored."""
    import json

    from .bisect_search import VersionError, parse_version
    from .results import STATUSES

    try:
        report = CaptureReport.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CliError(f"--from-json: no such file: {path}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CliError(f"--from-json: {path} is not a capture report: {exc}") from None
    names = [r.name for r in report.cases]
    problems = [
        "it holds no cases" if not names else None,
        f"case {next(n for n in names if names.count(n) > 1)} appears twice" if len(set(names)) != len(names) else None,
        next((f"case {r.name} has status {r.status!r}" for r in report.cases if r.status not in STATUSES), None),
        next(
            (f"case {r.name} has a non-text artifact" for r in report.cases if not all(isinstance(k, str) and isinstance(t, str) for k, t in r.artifacts.items())),
            None,
        ),
        f"it was normalized {report.normalize!r}; the history holds canonical captures" if report.normalize != "canonical" else None,
    ]
    try:
        parse_version(str(report.environment.get("torch_version")))
    except VersionError:
        problems.append(f"its environment has no torch version ({report.environment.get('torch_version')!r})")
    problem = next((p for p in problems if p), None)
    if problem:
        raise CliError(f"--from-json: {path} cannot be recorded: {problem}")
    return report


class _RunRecorder:
    """Stores one run case by case: begun at its first case (so an empty
    selection records nothing), each case committed as soon as it is captured
    (a killed run keeps what it did, and stays incomplete)."""

    def __init__(self, store: Any, label: str | None, err: TextIO) -> None:
        self.store, self.label, self.err = store, label, err
        self.start: CaptureStart | None = None
        self.run_id: int | None = None
        self.stored: set[str] = set()

    def _begin(self, environment: dict[str, Any], names: list[str], sources: list[str], normalize: str) -> int:
        from .store import case_set_fingerprint

        if self.run_id is None:
            texts = (Path(f).read_text(encoding="utf-8") for f in sources)
            self.run_id = self.store.begin_run(
                environment=environment,
                label=self.label,
                runner_version=__version__,
                case_set_fingerprint=case_set_fingerprint(names, texts),
                cases_expected=len(names),
                normalize=normalize,
            )
            print(f"recording run {self.run_id} into {self.store.url}", file=self.err)
        return self.run_id

    def add(self, result: CaseResult) -> None:
        start = self.start
        run_id = self._begin(start.environment, start.cases, start.source_files, "canonical") if start else None
        if run_id is not None and result.name not in self.stored:
            self.store.add_results(run_id, [result])
            self.stored.add(result.name)

    def left_incomplete(self) -> str:
        """What an interrupted run left behind, in words."""
        if self.run_id is None:
            return "nothing recorded"
        expected = len(self.start.cases) if self.start else 0
        return f"run {self.run_id} stays incomplete with {len(self.stored)} of {expected} cases stored"

    def finish(self, report: CaptureReport) -> tuple[int, str]:
        """Store what the progress events missed (the report is the authority), then close the run."""
        if not report.cases:
            raise CliError("no cases selected: nothing to record")
        names = [r.name for r in report.cases]
        sources = self.start.source_files if self.start else []
        run_id = self._begin(report.environment, names, sources, report.normalize)
        missing = [r for r in report.cases if r.name not in self.stored]
        if missing:
            self.store.add_results(run_id, missing)
            self.stored.update(r.name for r in missing)
        status = self.store.finish_run(run_id)
        if status != "complete":
            raise CliError(f"run {run_id} is {status}: {len(self.stored)} of {len(names)} cases stored")
        return run_id, status


def cmd_record(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_store(args.db, create=True) as store:
        recorder = _RunRecorder(store, args.label, err)
        if args.from_json:
            report = _load_report(args.from_json)
        else:

            def started(start: CaptureStart) -> None:
                recorder.start = start

            try:
                report = capture_report(args, err, args.case, args.substring, on_start=started, on_result=recorder.add)
            except Interrupted as exc:
                raise Interrupted(exc.signum, recorder.left_incomplete()) from None
        run_id, status = recorder.finish(report)
    return _recorded(run_id, status, report.cases, args, out, err, load_errors=bool(report.load_errors))


def _recorded(run_id: int, status: str, results: Sequence[CaseResult], args: argparse.Namespace, out: TextIO, err: TextIO, *, load_errors: bool) -> int:
    _report_failures(results, args.debug, err)
    print(f"run {run_id} {status}: {status_summary(list(results)) or 'no cases'}", file=err)
    print(run_id, file=out)
    failed = load_errors or any(r.status in ("error", "mismatch") for r in results)
    return EXIT_CASE_FAILED if failed else EXIT_OK


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def cmd_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_store(args.db) as store:
        runs = store.runs()
    if not runs:
        print(f"no runs in {store.url}", file=err)
        return EXIT_OK
    header = ("id", "label", "torch", "device", "kind", "status", "started (UTC)", "cases")
    rows = [
        (
            str(r.id),
            r.label or "-",
            r.environment["torch_version"],
            r.environment["device"],
            r.kind,
            r.status,
            _when(r.started_at),
            f"{r.cases_stored}/{r.cases_expected} " + " ".join(f"{s}={n}" for s, n in sorted(r.counts.items())),
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return EXIT_OK


def cmd_drift(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .drift import DriftError, captured_side, compare, resolve, version_matrix
    from .renderers import renderer

    capturing = bool(args.python or args.torch)
    if capturing == bool(args.ref_to):
        raise CliError("drift compares --from with --to, or with a fresh capture under --python/--torch: give exactly one of them")
    refs = [args.ref_from] if capturing else [args.ref_from, args.ref_to]
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(open_store(args.db)) if any(ref != "golden" for ref in refs) else None
        try:
            sides = [resolve(store, ref, snapshots_dir=Path(args.snapshots_dir), include_incomplete=args.include_incomplete) for ref in refs]
        except DriftError as exc:
            raise CliError(str(exc)) from None
        if capturing:
            sides.append(captured_side(capture_report(args, err, args.case, args.substring)))
        for side in sides:
            side.results = {
                n: r for n, r in side.results.items() if (not args.case or n in args.case) and (not args.substring or args.substring in n)
            }
        report = compare(*sides)
        # Only the HTML report draws the history grid; the others skip the query.
        if args.format == "html" and store is not None:
            report.matrix = version_matrix(store, [c.name for c in report.cases], last=args.matrix_runs, also=tuple(s.run_id for s in sides))
    text = renderer(args.format)(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        out.write(text)
    counts = report.counts()
    print(f"drift {report.before.title} → {report.after.title}: " + ", ".join(f"{n} {s}" for s, n in counts.items()), file=err)
    return EXIT_DRIFT if args.fail_on_drift and report.has_changes else EXIT_OK


def cmd_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.show is not None and not args.artifact:
        raise CliError("--show N needs an ARTIFACT: history NAME ARTIFACT --show N")
    with open_store(args.db) as store:
        names = store.case_names()
        if args.name not in names:
            close = [n for n in names if n.endswith(f"::{args.name}") or args.name in n][:3]
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise CliError(f"no case {args.name!r} in {store.url}{hint}")
        keys = [args.artifact] if args.artifact else store.keys_of(args.name)
        for key in keys:
            versions = store.history(args.name, key, include_incomplete=args.include_incomplete)
            if not versions:
                raise CliError(f"case {args.name} has no artifact {key!r} in {store.url}")
            if args.show is not None:
                if not 1 <= args.show <= len(versions):
                    raise CliError(f"{args.name} {key} has versions v1..v{len(versions)}, not v{args.show}")
                digest = versions[args.show - 1].sha256
                out.write(store.texts([digest])[digest])
                return EXIT_OK
            print(f"{args.name} {key}: {len(versions)} version{'s' if len(versions) != 1 else ''}", file=out)
            for number, v in enumerate(versions, 1):
                first, last = v.first, v.last
                print(
                    f"  v{number} {v.sha256[:12]}  first: run {first.id} (torch {first.environment['torch_version']}, {_when(first.started_at)})"
                    f"  last: run {last.id} (torch {last.environment['torch_version']}, {_when(last.started_at)})  runs: {v.runs}",
                    file=out,
                )
    return EXIT_OK
