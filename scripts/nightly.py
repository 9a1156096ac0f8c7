"""`make nightly`: record a run, write the drift report, bisect what changed.

1. ``record`` the cases (under ``--torch SPEC`` / ``--python PATH`` when given,
   e.g. the newest nightly) into the history database, labelled
   ``nightly-<date>T<time>``;
2. ``drift`` from the previous nightly (the newest complete ``nightly-*`` run
   on the same device; the goldens on the first night) to this run, over the
   same case selection, as ``reports/drift-<date>.md`` and ``.html``;
3. with ``--bisect``: for every case whose graphs changed, ``bisect`` it
   between the two runs over the versions in ``--versions-file`` (e.g. the
   nightlies published since the previous run), installing them with the
   same ``--index-url``/``--extra-index-url``/``--find-links``/``--envs-dir``
   as the record, as ``reports/bisect-<date>-<case>.md``.

Exit status: 0 when the reports were written (drift is news, not failure),
2 when recording or reporting itself failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import sys
from pathlib import Path

from snapshot_runner.cli import main as cli
from snapshot_runner.models import KIND_RECORD
from snapshot_runner.store import RunInfo, Store, StoreError

LABEL = "nightly-"


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli(list(argv), out, sys.stderr)
    return code, out.getvalue()


def _passed_on(options: list[str]) -> tuple[list[str], list[str]]:
    """From ``record``'s options: the case selection (for ``drift``) and the
    installer options (for ``bisect``, which installs the versions between)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-k")
    parser.add_argument("--case", action="append", default=[])
    for option in ("--index-url", "--envs-dir"):
        parser.add_argument(option)
    for option in ("--extra-index-url", "--find-links"):
        parser.add_argument(option, action="append", default=[])
    known, _ = parser.parse_known_args(options)
    selection = (["-k", known.k] if known.k else []) + [a for case in known.case for a in ("--case", case)]
    installer = [a for flag, value in (("--index-url", known.index_url), ("--envs-dir", known.envs_dir)) if value for a in (flag, value)]
    installer += [a for url in known.extra_index_url for a in ("--extra-index-url", url)]
    installer += [a for link in known.find_links for a in ("--find-links", link)]
    return selection, installer


def _nightlies(db: str | None, run_id: int) -> tuple[RunInfo, RunInfo | None]:
    """This run, and the newest complete nightly before it on the same device:
    a GPU run or a hand-made ``record`` in between is not what last night saw."""
    store = Store.open(db)
    try:
        this = store.run(run_id)
        assert this is not None
        return this, next(
            (
                r
                for r in store.runs(include_incomplete=False, kind=KIND_RECORD)
                if r.id < run_id and (r.label or "").startswith(LABEL) and r.environment["device"] == this.environment["device"]
            ),
            None,
        )
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Any other option goes to `snapshot-runner record`: -k, --case, --cases-dir, --torch, --python, --index-url, ...",
    )
    parser.add_argument("--db", default=None, help="history database URL (default: $SNAPSHOT_RUNNER_DB or db/history.sqlite)")
    parser.add_argument("--reports", default="reports", help="where the reports go (default: reports)")
    parser.add_argument("--bisect", action="store_true", help="bisect every case whose graphs changed")
    parser.add_argument("--versions-file", default=None, help="candidate versions for --bisect, one per line")
    args, record_options = parser.parse_known_args()  # the rest goes to `record` (--torch, --python, -k, ...)
    selection, installer = _passed_on(record_options)

    date = dt.date.today().isoformat()
    db = ["--db", args.db] if args.db else []
    # The time keeps a second run on one day a label of its own.
    code, out = _run("record", "--label", f"{LABEL}{dt.datetime.now():%Y-%m-%dT%H%M%S}", *db, *record_options)
    if code == 2 or not out.strip():
        return 2
    run_id = int(out)
    try:
        this, previous = _nightlies(args.db, run_id)
    except StoreError as exc:
        print(f"nightly: {exc}", file=sys.stderr)
        return 2
    since = str(previous.id) if previous else "golden"

    reports = Path(args.reports)
    for fmt in ("md", "html"):
        out_path = str(reports / f"drift-{date}.{fmt}")
        code, _ = _run("drift", "--from", since, "--to", str(run_id), "--format", fmt, "--out", out_path, *selection, *db)
        if code != 0:
            return 2
    print(f"nightly: wrote {reports}/drift-{date}.md and .html (run {run_id} from {'run ' + since if previous else 'golden'})", file=sys.stderr)
    if not args.bisect or previous is None:
        return 0
    torch_then, torch_now = previous.environment["torch_version"], this.environment["torch_version"]
    if torch_then == torch_now:
        print(f"nightly: same torch as the previous nightly ({torch_now}): any drift is the cases', nothing to bisect", file=sys.stderr)
        return 0

    _, text = _run("drift", "--from", since, "--to", str(run_id), "--format", "json", *selection, *db)
    report = json.loads(text)
    graph_changes = [c["name"] for c in report["cases"] if any(a["classification"] in ("structural", "signature") for a in c["artifacts"])]
    versions = ["--versions-file", args.versions_file] if args.versions_file else []
    for name in graph_changes:
        out_path = reports / f"bisect-{date}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.md"
        code, text = _run("bisect", name, "--good", since, "--bad", str(run_id), "--format", "md", *versions, *installer, *db)
        if code == 0 and text:
            out_path.write_text(text, encoding="utf-8")
            print(f"nightly: wrote {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
