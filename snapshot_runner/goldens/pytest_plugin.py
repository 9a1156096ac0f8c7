"""pytest plugin (entry point ``snapshot_runner``): golden tests for case modules.

It adds ``--cases-dir`` and ``--snapshots-dir`` (else ``cases-dir`` /
``snapshots-dir`` of the ``[tool.snapshot-runner]`` found from the rootdir up,
else ``cases`` / ``snapshots`` in the rootdir), records the versions of its
``track`` packages with the goldens, parametrizes
every test that takes the ``golden_case`` fixture over the discovered cases, and
ships the golden tests themselves (``test_golden``, one per case, and
``test_golden_orphans``): a repository imports them into one of its test modules::

    from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401

and runs ``pytest`` (check) or ``pytest --snapshot-update`` (rewrite; an
artifact that a fresh worker captures differently is refused, see
``stable_update``). The project's ``normalize`` rules apply after the built-in ones.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from snapshot_runner.capture import environment
from snapshot_runner.capture.case import Case
from snapshot_runner.capture.discovery import Discovery, LoadError, discover
from snapshot_runner.capture.normalize import Context
from snapshot_runner.capture.results import CaseStatus
from snapshot_runner.capture.user_rules import UserRule
from snapshot_runner.config import ConfigError, find_config
from snapshot_runner.drift.semantic import Level
from snapshot_runner.goldens import stable_update
from snapshot_runner.goldens.extension import SNAPSHOTS_DIR, check_case, snapshots_root
from snapshot_runner.goldens.layout import case_root, orphan_case_dirs, remove_goldens
from snapshot_runner.terminal import printable

CASES_DIR = pytest.StashKey[Path]()
TRACK = pytest.StashKey[tuple[str, ...]]()
USER_RULES = pytest.StashKey[tuple[UserRule, ...]]()
UPDATE_COMMAND = pytest.StashKey[str]()
FAIL_ON = pytest.StashKey[Level]()
ENVIRONMENT = pytest.StashKey[dict[str, Any]]()
# Cases found once per session (per xdist worker), on first use.
DISCOVERY = pytest.StashKey[Discovery]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("snapshot_runner", "golden-graph snapshots")
    group.addoption("--cases-dir", default=None, help="directory of case modules (default: cases-dir in [tool.snapshot-runner], else cases)")
    group.addoption("--snapshots-dir", default=None, help="directory of golden snapshots (default: snapshots-dir in [tool.snapshot-runner], else snapshots)")
    group.addoption(
        "--snapshot-runner-fail-on",
        default=None,
        choices=[str(level) for level in Level],
        help="fail a golden only for changes at this level or above (default: fail-on in [tool.snapshot-runner], else text, i.e. any change; least first: "
        + ", ".join(Level)
        + ")",
    )
    group.addoption("--snapshot-runner-raw-diff", action="store_true", help="show raw text diffs of failing goldens instead of semantic ones")
    parser.addini("snapshot_runner_fail_on", "as --snapshot-runner-fail-on (fail-on in [tool.snapshot-runner] wins)", default=str(Level.TEXT))


def _resolve(config: pytest.Config, option: str, configured: Path | None, default: str) -> Path:
    given = config.getoption(option)
    if given:
        return Path(given).resolve()
    return configured or (config.rootpath / default).resolve()


def update_command(root: Path) -> str:
    """How goldens are rewritten where the user is: this repository's make
    target where the Makefile has one, else pytest's own option."""
    makefile = root / "Makefile"
    has_target = makefile.is_file() and any(line.startswith("snapshot-update:") for line in makefile.read_text(encoding="utf-8").splitlines())
    return "make snapshot-update" if has_target else "pytest --snapshot-update"


def pytest_configure(config: pytest.Config) -> None:
    try:
        project = find_config(config.rootpath)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[CASES_DIR] = _resolve(config, "cases_dir", project.cases_dir, "cases")
    config.stash[SNAPSHOTS_DIR] = _resolve(config, "snapshots_dir", project.snapshots_dir, "snapshots")
    config.stash[TRACK] = project.track
    config.stash[USER_RULES] = project.normalize
    config.stash[UPDATE_COMMAND] = update_command(config.rootpath)
    given = config.getoption("snapshot_runner_fail_on")
    fail_on = given or project.fail_on or config.getini("snapshot_runner_fail_on")
    try:
        config.stash[FAIL_ON] = Level(fail_on)
    except ValueError:
        where = f"{project.path}: [tool.snapshot-runner] fail-on" if project.fail_on and not given else "snapshot_runner_fail_on"
        raise pytest.UsageError(f"{where} = {fail_on!r}: not a level ({', '.join(Level)})") from None
    # Inductor's provenance tracking turns on torch's structured trace (for
    # tlparse, not people): its empty DEBUG records would fill a failing
    # golden's "Captured log" section. Left alone when TORCH_TRACE asks for them.
    if not os.environ.get("TORCH_TRACE"):
        logging.getLogger("torch.__trace").disabled = True


def _discovery(config: pytest.Config) -> Discovery:
    if DISCOVERY not in config.stash:
        try:
            config.stash[DISCOVERY] = discover(config.stash[CASES_DIR])
        except FileNotFoundError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[DISCOVERY]


def _param_id(value: Case | LoadError) -> str:
    if isinstance(value, LoadError):
        return value.module.replace(".", "/") + "/<import error>"
    return "/".join(value.path_parts)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "golden_case" not in metafunc.fixturenames:
        return
    found = _discovery(metafunc.config)
    params: list[Case | LoadError] = [*found.errors, *found.cases]
    metafunc.parametrize("golden_case", params, ids=[_param_id(p) for p in params])


def _read_environment(config: pytest.Config) -> None:
    try:
        track: tuple[str, ...] = config.stash[TRACK]
        config.stash[ENVIRONMENT] = environment.describe(track)
    except environment.UntrackedPackage as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The environment's facts, read once before any golden test runs: a ``track``
    package that is missing stops the session with one line, not one setup
    error per case (a fixture's UsageError would be reported for each)."""
    if any("golden_case" in getattr(item, "fixturenames", ()) for item in items):
        _read_environment(config)


@pytest.fixture(scope="session")
def golden_environment(pytestconfig: pytest.Config) -> dict[str, Any]:
    if ENVIRONMENT not in pytestconfig.stash:  # a test of its own that uses it without golden_case
        _read_environment(pytestconfig)
    return pytestconfig.stash[ENVIRONMENT]


@pytest.fixture(scope="session")
def golden_context(pytestconfig: pytest.Config) -> Context:
    return Context.current(pytestconfig.stash[CASES_DIR], pytestconfig.stash[USER_RULES])


def test_golden(
    golden_case: Case | LoadError, golden_context: Context, golden_environment: dict[str, Any], snapshot: Any, request: pytest.FixtureRequest
) -> None:
    """Capture one case and compare its artifacts with the goldens."""
    from snapshot_runner.capture.recorder import capture_case

    if isinstance(golden_case, LoadError):
        pytest.fail(printable(golden_case.one_line()), pytrace=False)
    result = capture_case(golden_case, level="canonical", ctx=golden_context)
    if result.status == CaseStatus.SKIPPED:
        pytest.skip(printable(result.error or "skipped"))
    if result.status != CaseStatus.OK:
        pytest.fail(f"{golden_case.name}: {result.status}: {printable(str(result.error))}", pytrace=False)
    root = case_root(snapshots_root(request.config), golden_case, golden_environment["torch_version"])
    config = request.config
    refused = {}
    if config.option.update_snapshots:
        keys = stable_update.to_write(golden_case, result, root)
        refused = stable_update.refusals(golden_case, result, keys, config.stash[CASES_DIR], config.stash[TRACK], config.stash[USER_RULES])
    problems = check_case(
        result,
        golden_case,
        snapshot,
        root,
        golden_environment,
        config.stash[UPDATE_COMMAND],
        fail_on=config.stash[FAIL_ON],
        raw_diff=config.getoption("snapshot_runner_raw_diff"),
        user_rules=[rule.to_json() for rule in config.stash[USER_RULES]],
        refused=refused,
    )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_golden_orphans(request: pytest.FixtureRequest) -> None:
    """Goldens of cases that no longer exist: removed by --snapshot-update, else a failure.

    Only golden files go; a user's file beside them is kept and named in a warning.
    A test rather than a session hook, so it runs once under pytest-xdist too.
    """
    config = request.config
    found = _discovery(config)
    if found.errors:
        pytest.skip("a case module failed to import; its goldens are not orphans")
    root = snapshots_root(config)
    orphans = orphan_case_dirs(root, found.cases)
    names = ", ".join(str(o.relative_to(root)) for o in orphans)
    if orphans and config.option.update_snapshots:
        kept = [path for directory in orphans for path in remove_goldens(root, directory)]
        if kept:
            listed = ", ".join(str(p.relative_to(root)) for p in kept)
            warnings.warn(f"removed the goldens of {len(orphans)} deleted case(s); kept {len(kept)} file(s) that are not goldens: {listed}", stacklevel=1)
    elif orphans:
        pytest.fail(
            f"goldens of {len(orphans)} deleted case(s) remain: {names}; run with --snapshot-update to remove them",
            pytrace=False,
        )
