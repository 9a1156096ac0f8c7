"""Find case modules under a cases directory and the cases they define."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import CodeType

from snapshot_runner.capture.case import Case
from snapshot_runner.capture.names import NAME_RULE, SEPARATOR, case_name, case_name_problem, is_module_name, module_name, split_case_name

# Case modules are imported under this prefix so that a file named like a real
# package (``cases/test.py``) never shadows or clashes with it.
MODULE_PREFIX = "snapshot_cases"


def torch_version() -> str | None:
    """The torch imported in this process, which case modules are imported under."""
    return getattr(sys.modules.get("torch"), "__version__", None)


class CaseSelectionError(LookupError):
    """A requested case name matches nothing that was discovered."""


def not_loaded(names: Iterable[str], errors: Sequence[LoadError]) -> str | None:
    """Why a requested case is missing when its module failed to import (else None)."""
    failed = {error.module: error for error in errors}
    for name in names:
        error = failed.get(split_case_name(name)[0])
        if error:
            return f"{name} was not captured: {error.one_line()}"
    return None


@dataclasses.dataclass(frozen=True)
class LoadError:
    """A case module that failed to import, reported as one line."""

    module: str
    path: str
    line: int
    message: str
    traceback: str
    torch_version: str | None = None  # the torch it failed under
    missing_module: str | None = None  # the top-level module a ModuleNotFoundError names

    def one_line(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        under = f" under torch {self.torch_version}" if self.torch_version else ""
        # The usual cause in an environment the tool made: the user's library is not in it.
        hint = (
            f" (hint: {self.missing_module} is not installed there; the environments the tool makes get it with --with REQ or `with` in [tool.snapshot-runner])"
            if self.missing_module
            else ""
        )
        return f"{where}: cannot import case module {self.module}{under}: {self.message}{hint}"


@dataclasses.dataclass
class Discovery:
    cases_dir: Path
    cases: list[Case]
    errors: list[LoadError]

    def by_name(self) -> dict[str, Case]:
        return {c.name: c for c in self.cases}


def module_files(cases_dir: Path, unreadable: Callable[[OSError], None] = lambda _exc: None) -> list[Path]:
    """Case modules in a stable order; files and folders starting with '_' or '.' are helpers.

    A folder that cannot be listed (a path over PATH_MAX, no permission) goes to
    ``unreadable`` and the walk goes on: one bad folder hides no other module.
    """
    files = []
    for dirpath, dirnames, filenames in os.walk(cases_dir, onerror=unreadable):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        files += [Path(dirpath, name) for name in filenames if name.endswith(".py") and not name.startswith(("_", "."))]
    return sorted(files)


def _unreadable_folder(cases_dir: Path, exc: OSError) -> LoadError:
    where = str(Path(exc.filename or cases_dir).relative_to(cases_dir))
    # A path over PATH_MAX is kilobytes long: its start says where it is.
    shown = f"{where[:120]}... ({len(where)} characters)" if len(where) > 200 else where
    return LoadError(
        module=shown, path=str(cases_dir), line=0, message=f"cannot list the folder: {exc.strerror}; its case modules were not loaded", traceback=""
    )


def _badly_named(module: str, path: Path, what: str) -> LoadError:
    return LoadError(module=module, path=str(path), line=0, message=f"{what} cannot be part of a case name ({NAME_RULE}); rename it", traceback="")


def _error_location(exc: BaseException, path: Path) -> int:
    """The line in the case module where the import failed, if any."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno or 0
    return line


def _import_module(cases_dir: Path, path: Path) -> object:
    dotted = module_name(cases_dir, path)
    qualified = f"{MODULE_PREFIX}.{dotted}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[qualified]
        raise
    return module


@functools.lru_cache(maxsize=64)
def _module_code(path: str, source: bytes) -> CodeType:
    return compile(source, path, "exec", dont_inherit=True)


def fresh_copy(case: Case) -> Case:
    """The same case from a newly executed copy of its module (new globals)."""
    if not case.source_file or SEPARATOR not in case.name:
        return case
    spec = importlib.util.spec_from_file_location(f"{MODULE_PREFIX}_run.{case.module}", case.source_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # What the loader's exec_module does, minus compiling the source once per
    # case (without .pyc files, e.g. PYTHONDONTWRITEBYTECODE, that was most of
    # the copy's cost). Keyed by the source, so an edited file is recompiled;
    # shared code objects are fine as torch._dynamo.reset() drops every cache
    # keyed by code, and the module's globals are still new.
    exec(_module_code(case.source_file, Path(case.source_file).read_bytes()), module.__dict__)
    copy = getattr(module, case.function, None)
    return copy.with_location(case.name, case.source_file) if isinstance(copy, Case) else case


def exit_message(exc: BaseException) -> str:
    """What code did that would end the process: ``called sys.exit(0)``, ``raised KeyboardInterrupt``."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})" if exc.code is not None else "called sys.exit()"
    return f"raised {type(exc).__name__}"


def same_name_errors(root: Path, files: Sequence[Path]) -> tuple[list[Path], list[LoadError]]:
    """Files whose dotted names are unique, and one error per name two files share
    (``x.y.py`` beside ``x/y.py``): importing either would shadow the other."""
    by_name: dict[str, list[Path]] = {}
    for path in files:
        by_name.setdefault(module_name(root, path), []).append(path)
    errors = [
        LoadError(
            module=name,
            path=str(paths[0]),
            line=0,
            message=f"{' and '.join(str(p) for p in paths)} are both case module {name}; rename one",
            traceback="",
        )
        for name, paths in by_name.items()
        if len(paths) > 1
    ]
    return [p for p in files if len(by_name[module_name(root, p)]) == 1], errors


BeforeImport = Callable[[Path, str], None]


def discover(cases_dir: str | Path, *, exclude: Iterable[str] = (), before_import: BeforeImport | None = None, reverse_imports: bool = False) -> Discovery:
    """Import every case module under ``cases_dir`` and collect its cases.

    A module that fails to import (or calls ``sys.exit``) is reported as a
    ``LoadError``; the other modules still load. Files in ``exclude`` are not
    imported (the supervisor's record of modules that killed a worker);
    ``before_import`` hears of each module about to be imported.
    ``reverse_imports`` imports the modules last file first (``check-stable``:
    import order must not matter); the cases keep their order.
    """
    try:
        root = Path(cases_dir).resolve()
    except RuntimeError as exc:  # a symlink loop (Python 3.13 leaves it unresolved: not found below)
        raise FileNotFoundError(f"cases directory not usable: {cases_dir}: {exc}") from None
    if not root.is_dir():
        raise FileNotFoundError(f"cases directory not found: {cases_dir}")
    # Case modules may share helpers (e.g. ``from subclasses._tensors import ...``).
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    cases: list[Case] = []
    skipped = set(exclude)
    unreadable: list[LoadError] = []
    found = module_files(root, lambda exc: unreadable.append(_unreadable_folder(root, exc)))
    files, errors = same_name_errors(root, [p for p in found if str(p) not in skipped])
    errors += unreadable
    modules: dict[Path, object] = {}
    for path in reversed(files) if reverse_imports else files:
        dotted = module_name(root, path)
        # Never imported: its cases' names would reach the database and golden paths.
        if not is_module_name(dotted):
            errors.append(_badly_named(dotted, path, f"the file name {str(path.relative_to(root))!r}"))
            continue
        if before_import:
            before_import(path, dotted)
        try:
            module = _import_module(root, path)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a broken case module must not stop the others
            errors.append(
                LoadError(
                    module=dotted,
                    path=str(path),
                    line=_error_location(exc, path),
                    message=f"{type(exc).__name__}: {exc}" if isinstance(exc, Exception) else exit_message(exc),
                    traceback=traceback.format_exc(),
                    torch_version=torch_version(),
                    missing_module=exc.name.split(".")[0] if isinstance(exc, ModuleNotFoundError) and exc.name else None,
                )
            )
            continue
        modules[path] = module
    # Cases in file order, whatever order the modules were imported in.
    for path in (p for p in files if p in modules):
        dotted = module_name(root, path)
        defined = [(attr, value) for attr, value in vars(modules[path]).items() if isinstance(value, Case)]
        bad = next((attr for attr, _ in defined if case_name_problem(case_name(dotted, attr))), None)
        if bad is not None:
            errors.append(_badly_named(dotted, path, f"the factory {bad!r}"))
            continue
        cases += [value.with_location(case_name(dotted, attr), str(path)) for attr, value in defined]
    return Discovery(cases_dir=root, cases=cases, errors=errors)


def select(cases: Sequence[Case], names: Iterable[str] = (), substring: str | None = None) -> list[Case]:
    """Cases named in ``names``, in that order (all, in discovery order, when
    empty), whose name contains ``substring``."""
    wanted = list(dict.fromkeys(names))
    by_name = {c.name: c for c in cases}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise CaseSelectionError(f"unknown case name: {', '.join(unknown)}")
    chosen = [by_name[n] for n in wanted] if wanted else list(cases)
    if substring:
        chosen = [c for c in chosen if substring in c.name]
    return chosen
