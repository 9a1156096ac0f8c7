"""`make nightly`: record a run, write the drift report, bisect what changed.

1. ``record`` the cases (under ``--torch SPEC`` / ``--python PATH`` when given,
   e.g. the newest nightly) into the history database, labelled
   ``nightly-<date>``;
2. ``drift --from previous --to latest`` (``--from golden`` while the history
   holds a single run) as ``reports/drift-<date>.md`` and ``.html``;
3. with ``--bisect``: for every case whose graphs changed, ``bisect`` it
   between the two runs over the versions in ``--versions-file`` (e.g. the
   nightlies published since the previous run), as
   ``reports/bisect-<date>-<case>.md``.

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
from snapshot_runner.store import Store, StoreError


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli(list(argv), out, sys.stderr)
    return code, out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="history database URL (default: $SNAPSHOT_RUNNER_DB or db/history.sqlite)")
    parser.add_argument("--reports", default="reports", help="where the reports go (default: reports)")
    parser.add_argument("--bisect", action="store_true", help="bisect every case whose graphs changed")
    parser.add_argument("--versions-file", default=None, help="candidate versions for --bisect, one per line")
    args, capture_options = parser.parse_known_args()  # the rest goes to `record` (--torch, --python, -k, ...)

    date = dt.date.today().isoformat()
    db = ["--db", args.db] if args.db else []
    code, _ = _run("record", "--label", f"nightly-{date}", *db, *capture_options)
    if code == 2:
        return 2
    try:
        store = Store.open(args.db)
        complete = store.runs(include_incomplete=False, kind=KIND_RECORD, limit=2)
        store.close()
    except StoreError as exc:
        print(f"nightly: {exc}", file=sys.stderr)
        return 2
    since = "previous" if len(complete) > 1 else "golden"

    reports = Path(args.reports)
    for fmt in ("md", "html"):
        code, _ = _run("drift", "--from", since, "--to", "latest", "--format", fmt, "--out", str(reports / f"drift-{date}.{fmt}"), *db)
        if code != 0:
            return 2
    print(f"nightly: wrote {reports}/drift-{date}.md and .html (from {since})", file=sys.stderr)
    if not args.bisect or since == "golden":
        return 0

    _, text = _run("drift", "--from", "previous", "--to", "latest", "--format", "json", *db)
    report = json.loads(text)
    graph_changes = [c["name"] for c in report["cases"] if any(a["classification"] in ("structural", "signature") for a in c["artifacts"])]
    good, bad = str(complete[1].id), str(complete[0].id)
    versions = ["--versions-file", args.versions_file] if args.versions_file else []
    for name in graph_changes:
        out = reports / f"bisect-{date}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.md"
        code, text = _run("bisect", name, "--good", good, "--bad", bad, "--format", "md", *versions, *db)
        if code == 0 and text:
            out.write_text(text, encoding="utf-8")
            print(f"nightly: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
