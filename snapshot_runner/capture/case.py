"""The case model: a decorated zero-argument factory plus its compile options.

This module (like discovery, capture and normalize) needs only torch and the
standard library, so it can run inside any interpreter that has torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from snapshot_runner.capture.names import case_name, golden_parts, split_case_name

BACKENDS = ("aot_eager", "eager", "inductor")

# A case factory returns (fn, args) for one call or (fn, [args1, args2, ...]).
Factory = Callable[[], tuple[Callable[..., Any], Any]]


@dataclasses.dataclass(frozen=True)
class CaseOptions:
    dynamic: bool | None = None
    fullgraph: bool = True
    backward: bool | Callable[[Any], Any] = True
    backend: str = "aot_eager"
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Keep Inductor's full generated code as the ``inductor_code`` artifact.
    inductor_code: bool = False
    requires: tuple[str, ...] = ()
    min_torch: str | None = None
    max_torch: str | None = None
    tags: tuple[str, ...] = ()
    # Seconds the case may run before the supervisor stops it (None: the run's --timeout).
    timeout: float | None = None


@dataclasses.dataclass(frozen=True)
class Case:
    """One scenario: ``name`` is ``<dotted module path>::<factory name>``."""

    factory: Factory
    options: CaseOptions
    name: str = ""
    source_file: str = ""
    line: int = 0

    @property
    def module(self) -> str:
        return split_case_name(self.name)[0]

    @property
    def function(self) -> str:
        return split_case_name(self.name)[1] or self.factory.__name__

    @property
    def path_parts(self) -> tuple[str, ...]:
        """Where the case's goldens live, relative to the snapshots directory."""
        return golden_parts(case_name(self.module, self.function))

    def with_location(self, name: str, source_file: str) -> Case:
        return dataclasses.replace(self, name=name, source_file=source_file)

    def __call__(self) -> tuple[Callable[..., Any], Any]:
        return self.factory()


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def case(
    _factory: Factory | None = None,
    *,
    dynamic: bool | None = None,
    fullgraph: bool = True,
    backward: bool | Callable[[Any], Any] = True,
    backend: str = "aot_eager",
    config: dict[str, Any] | None = None,
    inductor_code: bool = False,
    requires: str | Iterable[str] | None = None,
    min_torch: str | None = None,
    max_torch: str | None = None,
    tags: str | Iterable[str] | None = None,
    timeout: float | None = None,
) -> Any:
    """Mark a zero-argument factory as a snapshot case.

    Usable bare (``@case``) or with options (``@case(dynamic=True)``).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if inductor_code and backend != "inductor":
        raise ValueError(f"inductor_code=True needs backend='inductor', not {backend!r}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    options = CaseOptions(
        dynamic=dynamic,
        fullgraph=fullgraph,
        backward=backward,
        backend=backend,
        config=dict(config or {}),
        inductor_code=inductor_code,
        requires=_as_tuple(requires),
        min_torch=min_torch,
        max_torch=max_torch,
        tags=_as_tuple(tags),
        timeout=timeout,
    )

    def wrap(factory: Factory) -> Case:
        code = getattr(factory, "__code__", None)
        return Case(
            factory=factory,
            options=options,
            name=factory.__name__,
            source_file=code.co_filename if code else "",
            line=code.co_firstlineno if code else 0,
        )

    if _factory is not None:
        return wrap(_factory)
    return wrap
