"""Artifact keys and their families: the one place that names them.

A case with several graphs or cache entries gets ``dynamo_graph.1``,
``guards.1``, ... in compile order; ``base_key`` and ``family`` see through
that suffix.
"""

from __future__ import annotations

import re

from snapshot_runner.capture.vocabulary import StrEnum


class Key(StrEnum):
    DYNAMO_GRAPH = "dynamo_graph"
    AOT_FORWARD = "aot_forward"
    AOT_BACKWARD = "aot_backward"
    AOT_INFERENCE = "aot_inference"
    GUARDS = "guards"
    COMPILE = "compile"
    INDUCTOR_POST_GRAD = "inductor_post_grad"
    INDUCTOR_KERNELS = "inductor_kernels"
    INDUCTOR_CODE = "inductor_code"


class Family(StrEnum):
    """Which normalization rules and which change classification apply."""

    GRAPH = "graph"
    GUARDS = "guards"
    SUMMARY = "compile"
    KERNELS = "kernels"  # our summary of Inductor's generated code
    CODE = "code"  # Inductor's generated code itself


FAMILY_OF_KEY = {
    Key.DYNAMO_GRAPH: Family.GRAPH,
    Key.AOT_FORWARD: Family.GRAPH,
    Key.AOT_BACKWARD: Family.GRAPH,
    Key.AOT_INFERENCE: Family.GRAPH,
    Key.INDUCTOR_POST_GRAD: Family.GRAPH,
    Key.GUARDS: Family.GUARDS,
    Key.COMPILE: Family.SUMMARY,
    Key.INDUCTOR_KERNELS: Family.KERNELS,
    Key.INDUCTOR_CODE: Family.CODE,
}

# The order reports list a case's artifacts in.
KEY_ORDER = tuple(Key)

# Artifacts of several compiled graphs (forward, backward) have one section each.
SECTION_PREFIX = "===== "


# A key is a golden's file name: a lowercase word, and a graph's number after a dot.
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[1-9][0-9]*)?")


def key_problem(key: str) -> str | None:
    """Why ``key`` is not an artifact key (``aot_forward``, ``guards.1``), or None."""
    return None if KEY_PATTERN.fullmatch(key) else f"{key!r} is not an artifact key"


def base_key(key: str) -> str:
    """``aot_forward.1`` -> ``aot_forward``."""
    return key.partition(".")[0]


def numbered(key: Key, index: int) -> str:
    """The key of the ``index``-th graph or cache entry (0: the key itself)."""
    return f"{key}.{index}" if index else str(key)


def family(key: str) -> Family:
    """``aot_forward.1`` -> ``graph``; unknown keys are treated as graphs."""
    return FAMILY_OF_KEY.get(base_key(key), Family.GRAPH)  # type: ignore[call-overload]  # a str looks up a str-valued member
