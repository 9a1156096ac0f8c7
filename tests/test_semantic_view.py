"""The semantic diff tells the truth, checked as a property over every real drift
in tests/data/semantic (torch 2.13.0 → 2.14.1 → 2.15.0 captures) and over the
mutants of the classifier's property test (scripts/classifier_mutations.py).

Precisely: take the raw line diff of the two texts (difflib, no junk heuristic)
and the aligned view (``graph_diff.aligned_views``: each view line knows the
text line it shows; headings show none), diffed as ``aligned_diff`` diffs it.

- traceable: every ``-`` line of the view shows an old text line the raw diff
  removes or replaces, every ``+`` line a new text line it adds or replaces; no
  heading is ever ``+``/``-`` (the graphs are the same in number and title);
- represented: every changed raw line that holds an input, node or output is
  shown as ``+``/``-``, or the view pairs it, unchanged, with a line of the other
  text that differs from it only in names or in the dead-name cleanup
  (``;  x = None``): a rename, a move or codegen the view leaves out.
"""

from __future__ import annotations

import difflib
import random
import re

import pytest

from snapshot_runner.capture.artifacts import Family, family
from snapshot_runner.drift import graph_diff
from snapshot_runner.drift.graph_text import Graph, parse
from snapshot_runner.drift.structure import describe

from .test_classifier_mutations import mutations
from .test_semantic import changed_graphs

PAIRS = ["2.13.0_to_2.14.1", "2.14.1_to_2.15.0"]
_CLEANUP = re.compile(r";  (?:\w+ = )+None$")
_NAME = re.compile(r"(?<![.\w'\"])[A-Za-z_]\w*(?!\w)")


def _names(graphs: list[Graph]) -> set[str]:
    return {n for g in graphs for n in [*(i.name for i in g.inputs), *(n.name for n in g.nodes), *g.aliases]}


def _changed(old: list[str], new: list[str], autojunk: bool) -> tuple[set[int], set[int], list[tuple[int, int]]]:
    """Changed indexes on each side, and the pairs of equal ones."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=autojunk)
    removed, added, same = set(), set(), []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            same += zip(range(i1, i2), range(j1, j2), strict=True)
        else:
            removed.update(range(i1, i2))
            added.update(range(j1, j2))
    return removed, added, same


def view_problems(old_text: str, new_text: str) -> list[str]:
    """Every way the aligned view of the two texts breaks the two properties (empty: it tells the truth)."""
    old_raw, new_raw = old_text.splitlines(), new_text.splitlines()
    raw_removed, raw_added, _ = _changed(old_raw, new_raw, autojunk=False)
    old_graphs, new_graphs = parse(old_text), parse(new_text)
    old_view, new_view = graph_diff.aligned_views(old_graphs, new_graphs)
    view_removed, view_added, view_same = _changed([t for t, _ in old_view], [t for t, _ in new_view], autojunk=True)
    problems = [f"shown removed, unchanged in the raw diff: {old_view[i][0]!r}" for i in view_removed if old_view[i][1] not in raw_removed]
    problems += [f"shown added, unchanged in the raw diff: {new_view[j][0]!r}" for j in view_added if new_view[j][1] not in raw_added]
    # A raw line paired, unchanged, in the view with a line differing from it only in names.
    names = _names(old_graphs) | _names(new_graphs)

    def masked(line: str) -> str:
        code = _CLEANUP.sub("", line)  # ``;  x = None``: codegen freeing names, which the view leaves out
        return _NAME.sub(lambda m: "_" if m[0] in names else m[0], code).strip().rstrip(",")

    hidden_old = {old_view[i][1] for i, j in view_same if masked(old_raw[old_view[i][1]]) == masked(new_raw[new_view[j][1]])} if view_same else set()
    hidden_new = {new_view[j][1] for i, j in view_same if masked(old_raw[old_view[i][1]]) == masked(new_raw[new_view[j][1]])} if view_same else set()
    shown_old = {old_view[i][1] for i in view_removed}
    shown_new = {new_view[j][1] for j in view_added}
    holding_old = {line for _, line in old_view if line >= 0}
    holding_new = {line for _, line in new_view if line >= 0}
    problems += [f"changed raw line not in the view: -{old_raw[i]!r}" for i in sorted(raw_removed & holding_old - shown_old - hidden_old)]
    problems += [f"changed raw line not in the view: +{new_raw[j]!r}" for j in sorted(raw_added & holding_new - shown_new - hidden_new)]
    return problems


def real_drifts() -> list[tuple[str, str, str, str]]:
    """Every changed graph artifact of this repository's cases (2.13.0 → 2.14.1 → 2.15.0) and of examples/torchao (2.13.0 → 2.14.1)."""
    torchao = [(c, k, a, b) for c, k, a, b in changed_graphs("2.13.0_to_2.14.1", prefix="torchao_")]
    return [change for pair in PAIRS for change in changed_graphs(pair)] + torchao


def test_every_real_drift_is_shown_truthfully():
    checked = 0
    for case, key, before, after in real_drifts():
        assert view_problems(before, after) == [], (case, key)
        checked += 1
    assert checked == 16 + 8 + 4  # every changed graph artifact of the three pairs


def test_a_new_node_has_its_new_name_and_an_op_change_both_names():
    text = (mutations.REPO / "snapshots/subclasses/two_tensor/twotensor_view_mul/aot_forward.txt").read_text()
    assert 'view: "f32[s16*s47]" = torch.ops.aten.view.default(clone, [mul_6])' in text
    changed = text.replace('view: "f32[s16*s47]" = torch.ops.aten.view.default(clone, [mul_6])', 'gelu: "f32[s16*s47]" = torch.ops.aten.gelu.default(clone)')
    changed = re.sub(r"\bview\b(?=[,)])", "gelu", changed)
    diff = describe("aot_forward", text, changed).semantic_diff
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert "+view→gelu: 'f32[s16*s47]' = torch.ops.aten.gelu.default(clone)" in added, diff
    assert not [line for line in added if line.startswith("+view:")]
    assert view_problems(text, changed) == []


def test_the_view_of_mutants_tells_the_truth():
    """Real changes made by hand (ops, arguments, nodes, outputs, ...) to every golden graph."""
    rng = random.Random(0)
    checked = 0
    for path in mutations.golden_files():
        if family(mutations.artifact_key(path)) != Family.GRAPH:
            continue
        text = path.read_text(encoding="utf-8")
        for mutant in mutations.mutants(path, text, rng, per_kind=1):
            if mutant.kind not in (mutations.Kind.RENAME, mutations.Kind.SWAP):
                assert view_problems(text, mutant.after) == [], (str(path), mutant.kind)
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize("pair", PAIRS)
def test_real_pairs_are_there(pair: str):
    assert changed_graphs(pair)


def test_a_new_input_is_not_shown_under_an_old_inputs_name():
    # torch 2.14.1's NF4 backward reads the packed u8 data where 2.13.0's read the bf16 weight (view_2).
    (before, after) = next(
        (b, a) for c, k, b, a in changed_graphs("2.13.0_to_2.14.1", prefix="torchao_") if (c, k) == ("nf4_linear::nf4_linear", "aot_backward")
    )
    added = [line for line in describe("aot_backward", before, after).semantic_diff.splitlines() if line.startswith("+")]
    assert "+    primals_2: 'u8[8192]'  # SubclassGetAttrAOTInput(base=PlainAOTInput(idx=1), attr='quantized_data')" in added
    assert "+rshift_1: 'u8[8192]' = torch.ops.aten.__rshift__.Scalar(primals_2, 4)" in added
    assert not [line for line in added if re.search(r"\bview_2\b", line)]
