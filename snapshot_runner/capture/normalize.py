"""Normalization: turn raw compiler text into byte-stable artifacts.

Two levels:

* ``native``: exactly what PyTorch's own tests compare
  (``torch._dynamo.testing.normalize_gm``).
* ``canonical`` (used for goldens): ``native`` plus the named rules below, each
  of which removes one thing that differs between machines, checkouts or runs
  and nothing else. No rule may hide a change in ops, shapes, dtypes, strides,
  input/output structure, symbolic guards or guard logic; each has a test on
  real raw text in ``tests/test_normalize.py``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path

from snapshot_runner.capture.artifacts import SECTION_PREFIX, Family, family
from snapshot_runner.capture.user_rules import UserRule

LEVELS = ("native", "canonical")

# Aliases the rules read by: which rules apply to which artifact family.
GRAPH, GUARDS, SUMMARY, KERNELS, CODE = Family.GRAPH, Family.GUARDS, Family.SUMMARY, Family.KERNELS, Family.CODE
# PyTorch's own normalization (comment stripping) applies to graphs and guards;
# in generated code the comments say which nodes a kernel came from, so they stay.
_NATIVE_FAMILIES = (GRAPH, GUARDS)


@dataclasses.dataclass(frozen=True)
class Context:
    """What the rules need to know about where the text was produced."""

    cases_dir: str = ""
    torch_dir: str = ""
    # The project's own rules, run after the built-in ones.
    user_rules: tuple[UserRule, ...] = ()

    @classmethod
    def current(cls, cases_dir: str | Path, user_rules: tuple[UserRule, ...] = ()) -> Context:
        import torch

        return cls(cases_dir=str(Path(cases_dir).resolve()), torch_dir=os.path.dirname(torch.__file__), user_rules=user_rules)


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    families: frozenset[str]
    apply: Callable[[str, Context], str]

    @property
    def doc(self) -> str:
        return (self.apply.__doc__ or "").strip()


CANONICAL_RULES: list[Rule] = []


def rule(*families: str) -> Callable[[Callable[[str, Context], str]], Callable[[str, Context], str]]:
    def register(fn: Callable[[str, Context], str]) -> Callable[[str, Context], str]:
        CANONICAL_RULES.append(Rule(fn.__name__, frozenset(families), fn))
        return fn

    return register


def native(text: str) -> str:
    """What PyTorch's tests compare: comments stripped, trailing space, blank runs squashed."""
    from torch._dynamo.testing import normalize_gm

    return normalize_gm(text)


# --- canonical rules, applied in this order -------------------------------


def _torch_short_path(path: str, torch_dir: str) -> str:
    # Mirrors torch.utils._traceback.shorten_filename, which guard comments use:
    # the common prefix of the file and torch's parent directory is cut off.
    base = os.path.dirname(torch_dir)
    try:
        prefix = os.path.commonpath([path, base])
    except ValueError:
        return path
    return path[len(prefix) + 1 :]


@rule(GRAPH, GUARDS, SUMMARY, CODE)
def case_paths(text: str, ctx: Context) -> str:
    """Case files, absolute (``/home/me/repo/cases/x.py``) or as torch shortens them
    in guard comments (``repo/cases/x.py``), become ``<cases>/x.py``."""
    if not ctx.cases_dir:
        return text
    text = text.replace(ctx.cases_dir + os.sep, "<cases>/")
    if ctx.torch_dir:
        short = _torch_short_path(ctx.cases_dir, ctx.torch_dir)
        # The lookbehind regex is the slow part, and most texts lack the path.
        if short and short != ctx.cases_dir and short + os.sep in text:
            text = re.sub(r"(?<![\w/.<-])" + re.escape(short + os.sep), "<cases>/", text)
    return text


@rule(GRAPH, GUARDS, SUMMARY, CODE)
def torch_paths(text: str, ctx: Context) -> str:
    """The installed torch package's absolute path becomes ``<torch>``."""
    if not ctx.torch_dir:
        return text
    return text.replace(ctx.torch_dir + os.sep, "<torch>/")


# A path starts at ``<name>/`` or where a run of path characters starts: the
# lookbehind gives the same matches as without it (a match inside a run would
# also match from the run's start, which is tried first) but stops the engine
# from rescanning the rest of every run from each of its characters.
_TORCH_LOCATION = re.compile(r"(?P<file>(?:<\w+>/|(?<![\w./-]))[\w./-]+\.py):\d+(?= in [\w<])")


@rule(GUARDS, SUMMARY)
def torch_line_numbers(text: str, ctx: Context) -> str:
    """``_dynamo/output_graph.py:1135 in init_ambient_guards`` (or ``in <lambda>``)
    loses its line number: torch-internal lines move with every commit. Case
    files keep theirs (``case_source_lines`` makes them relative)."""

    def strip(match: re.Match[str]) -> str:
        path = match.group("file")
        if path.startswith("<cases>/"):
            return match.group(0)
        return path

    return _TORCH_LOCATION.sub(strip, text)


# The guarded expression may nest calls two deep: ``dict(type(L['w']).__dict__)``.
# Dict keys guarded by identity write ``__check_obj_id`` (two underscores).
_ID_CALL = re.compile(r"(_{2,3}check_(?P<kind>type_id|obj_id|fake_script_type)\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*?, )\d+\)")


@rule(GUARDS, SUMMARY)
def object_ids(text: str, ctx: Context) -> str:
    """``___check_type_id(L['x'], 94823...)``, ``___check_obj_id(...)`` (and a
    dict key's ``__check_obj_id``), ``___check_fake_script_type(...)`` keep the
    guarded expression; the id() value, which differs per process, goes."""
    return _ID_CALL.sub(lambda m: f"{m.group(1)}<{m.group('kind')}>)", text)


# ``install_global_by_id`` and ``get_safe_global_name`` name a global
# ``{prefix}_{id(value)}_c{compile id}``. The prefix may be empty (an
# ``isinstance(x, torch.Tensor)`` installs torch as ``_1398..._c0``) or hold an
# id itself (``store_global_weakref_by_id("__optimizer_<id>", ...)``).
_INSTALLED_ID = re.compile(r"_\d{6,}(?=(?:_\d{6,})*_c\d)")
# Names made from id() without a compile id: a DTensor spec guard's
# ``__dtensor_spec_<id>``, a torch object without a qualified name, cached as
# a global (``__torch_obj_<id>``).
_ID_NAMED = re.compile(r"(?<![A-Za-z0-9])(?P<prefix>__dtensor_spec_|__torch_obj_)\d{6,}")


@rule(GRAPH, GUARDS, SUMMARY, CODE)
def installed_global_ids(text: str, ctx: Context) -> str:
    """Globals Dynamo installs by object id carry ``id()`` and a compile id:
    ``___check_metadata_139965312979392_c0/0``, ``__subclass_Foo_94346_c3``,
    with no prefix ``G['_139866582778000_c0'].Tensor``, with two ids
    ``__optimizer_<id>_<id>_c4``; and ``__dtensor_spec_``, ``__torch_obj_``
    names end in one. The id goes; the
    compile id stays (capture restarts its counters per case)."""
    text = _INSTALLED_ID.sub("_<id>", text)
    return _ID_NAMED.sub(lambda m: f"{m.group('prefix')}<id>", text)


@rule(GRAPH, GUARDS, SUMMARY, CODE)
def object_addresses(text: str, ctx: Context) -> str:
    """``<function f at 0x7f3a...>`` -> ``<function f at 0x<address>>`` (a
    weakref's repr too: ``<weakref at 0x...; to 'M' at 0x...>``), and a
    backend's ``(id=0x7f3a...)`` in recompile reasons. Only those: a hex
    constant in generated code is code."""
    return re.sub(r"(?<= at |\(id=)0x[0-9a-fA-F]{6,}", "0x<address>", text)


# A set (or frozenset) display of plain constants: quoted strings and numbers.
_SET_ITEM = r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?)"""
_SET_DISPLAY = re.compile(r"\{(?P<items>" + _SET_ITEM + r"(?:, " + _SET_ITEM + r")+)\}")
_SET_ITEMS = re.compile(_SET_ITEM)


@rule(GUARDS, SUMMARY)
def set_element_order(text: str, ctx: Context) -> str:
    """A guard on a set prints it in hash order, which ``PYTHONHASHSEED``
    changes per process: ``__expected_keys__ == {'reward', 'obs', 'action'}``.
    The elements of a set of constants are sorted; a dict (``{'a': 1}``) is
    not a set and keeps its order, and so does anything but constants."""
    return _SET_DISPLAY.sub(lambda m: "{" + ", ".join(sorted(_SET_ITEMS.findall(m.group("items")))) + "}", text)


@rule(GUARDS)
def thread_count(text: str, ctx: Context) -> str:
    """The global-state guard records ``torch.get_num_threads()``, a property of
    the machine, not of the program: ``"num_threads":2`` -> ``"num_threads":<n>``."""
    return re.sub(r'"num_threads":\d+', '"num_threads":<n>', text)


@rule(GUARDS)
def alignment_padding(text: str, ctx: Context) -> str:
    """Guard lines pad the code to 60 columns before the ``  # source`` comment;
    the padding depends on the width of ids, so runs of spaces before `` # ``
    shrink to two."""
    return re.sub(r"(?<=\S) {2,}# ", "  # ", text)


# ``  # y = tt.clone()  # <cases>/x.py:55 in f``: the quoted line of user code
# sits between the first comment mark and a case file's location.
_QUOTED_CASE_SOURCE = re.compile(r"(?P<mark> {2,}# )[^\n]*?  # (?=<cases>/[\w./-]+\.py:\d+ in )")
_CASE_LOCATION = re.compile(r"(?P<file><cases>/[\w./-]+\.py):(?P<line>\d+) in (?P<function>[\w<>.]+)")
_RESUME = re.compile(r"^torch_dynamo_resume_in_(?P<function>\w+?)_at_(?P<line>\d+)$")


def _def_line(ctx: Context, file: str, function: str, line: int, sources: dict[str, list[str]]) -> int | None:
    """The line of the ``def`` of ``function`` that encloses ``line`` of a case file, if it can be read."""
    if file not in sources:
        try:
            sources[file] = Path(ctx.cases_dir, file.removeprefix("<cases>/")).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            sources[file] = []
    definition = re.compile(r"^\s*(?:async\s+)?def\s+" + re.escape(function) + r"\s*\(")
    lines = sources[file]
    return next((n for n in range(min(line, len(lines)), 0, -1) if definition.match(lines[n - 1])), None)


@rule(GUARDS, SUMMARY)
def case_source_lines(text: str, ctx: Context) -> str:
    """Guard and recompile comments quote the case's own code and its absolute
    line: ``# y = tt.clone()  # <cases>/two_tensor.py:55 in f``. The quote goes
    and the line becomes relative to the ``def`` of its function
    (``# <cases>/two_tensor.py:+1 in f``; a resume function's line too:
    ``torch_dynamo_resume_in_f_at_+3``), so an edit elsewhere in the file
    changes no other case's text. Where the ``def`` cannot be found (a lambda,
    module code, no file) the line number goes."""
    text = _QUOTED_CASE_SOURCE.sub(lambda m: m.group("mark"), text)
    sources: dict[str, list[str]] = {}

    def relative(match: re.Match[str]) -> str:
        file, line, function = match.group("file"), int(match.group("line")), match.group("function")
        resume = _RESUME.match(function)
        defined = _def_line(ctx, file, resume.group("function") if resume else function, line, sources)
        if defined is None:
            name = f"torch_dynamo_resume_in_{resume.group('function')}_at_<line>" if resume else function
            return f"{file} in {name}"
        if resume:
            function = f"torch_dynamo_resume_in_{resume.group('function')}_at_+{int(resume.group('line')) - defined}"
        return f"{file}:+{line - defined} in {function}"

    return _CASE_LOCATION.sub(relative, text)


_NESTED_INT = re.compile(r"(?<![\w.])j(\d+)\b")


@rule(GRAPH, GUARDS, SUMMARY, KERNELS, CODE)
def nested_int_ids(text: str, ctx: Context) -> str:
    """Nested ints (``j7``, the ragged size of a jagged tensor) come from a
    process-global counter; renumber them ``j1, j2, ...`` by first appearance,
    so distinct ragged sizes stay distinct."""
    mapping: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        original = match.group(0)
        if original not in mapping:
            mapping[original] = f"j{len(mapping) + 1}"
        return mapping[original]

    # Only inside type strings ("f64[3, j7, 4]", "Sym(j7)") and guard text,
    # where a bare jN is a nested int, never a user variable.
    def in_quotes(match: re.Match[str]) -> str:
        return _NESTED_INT.sub(renumber, match.group(0))

    return re.sub(r'"[^"\n]*"', in_quotes, text)


# --- generated code (Inductor) ----------------------------------------------------


_CACHE_FILE = re.compile(r"(?:/[^\s'\"/]+)+/[a-z0-9]{2}/c[a-z0-9]{20,}\.(?P<ext>py|h|cpp|so)\b")


@rule(CODE)
def inductor_cache_paths(text: str, ctx: Context) -> str:
    """Files in Inductor's cache are named by the hash of their contents under a
    per-user directory: ``# kernel path: /tmp/torchinductor_me/3x/c3xq...py`` ->
    ``# kernel path: <inductor-cache>/<hash>.py``. The kernel's source itself
    follows in the artifact, so the hash adds nothing."""
    return _CACHE_FILE.sub(lambda m: f"<inductor-cache>/<hash>.{m.group('ext')}", text)


@rule(CODE)
def backend_hashes(text: str, ctx: Context) -> str:
    """Triton kernels carry ``'backend_hash': '<64 hex digits>'``, a hash of the
    installed Triton/CUDA toolchain (already named by the golden's variant)."""
    return re.sub(r"'backend_hash': '[0-9A-Fa-f]{32,}'", "'backend_hash': '<hash>'", text)


@rule(CODE)
def provenance_handles(text: str, ctx: Context) -> str:
    """Capture turns on Inductor's provenance tracking (to name the post-grad
    nodes of each kernel), which writes ``# [Provenance debug handles] name:3``
    above each launch; without it Inductor writes no such line, so it goes."""
    return re.sub(r"(?m)^[ \t]*# \[Provenance debug handles\] \S+\n", "", text)


_KERNEL_NAME = re.compile(r"\b(?P<base>(?:triton|cpp)_[A-Za-z0-9_]*?)_(?P<counter>\d+)\b(?!:)")


@rule(KERNELS, CODE)
def kernel_name_counters(text: str, ctx: Context) -> str:
    """Kernel names end in a per-graph counter (``triton_poi_fused_add_3``,
    ``cpp_fused_sum_1``): one more kernel early in a graph renames every later
    one. Each name is renumbered among kernels of the same fused name, by first
    appearance within its graph's section: ``cpp_fused_sum_<1>``, so distinct
    kernels stay distinct."""

    def renumber_section(section: str) -> str:
        seen: dict[str, dict[str, int]] = {}

        def renumber(match: re.Match[str]) -> str:
            counters = seen.setdefault(match.group("base"), {})
            number = counters.setdefault(match.group("counter"), len(counters) + 1)
            return f"{match.group('base')}_<{number}>"

        return _KERNEL_NAME.sub(renumber, section)

    sections = re.split("(?m)^(?=" + re.escape(SECTION_PREFIX) + ")", text)
    return "".join(renumber_section(section) for section in sections)


@rule(GRAPH, GUARDS, SUMMARY, KERNELS, CODE)
def surrounding_blank_lines(text: str, ctx: Context) -> str:
    """No blank lines before the first line; exactly one newline after the last,
    so golden files diff cleanly."""
    return text.strip("\n") + "\n"


def rules_for(key: str) -> list[Rule]:
    fam = family(key)
    return [r for r in CANONICAL_RULES if fam in r.families]


def normalize(key: str, text: str, level: str, ctx: Context) -> str:
    """Normalize one artifact's raw text at ``level`` ("native" or "canonical")."""
    if level not in LEVELS:
        raise ValueError(f"unknown normalization level {level!r}; expected one of {LEVELS}")
    out = native(text) if family(key) in _NATIVE_FAMILIES else text
    if level == "canonical":
        for r in rules_for(key):
            out = r.apply(out, ctx)
        for user_rule in ctx.user_rules:
            out = user_rule.apply(out)
    return out


def normalize_all(artifacts: dict[str, str], level: str, ctx: Context) -> dict[str, str]:
    return {key: normalize(key, text, level, ctx) for key, text in artifacts.items()}
