"""``--torch SPEC``: which torch a cached environment holds, and the key it is cached under."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
from pathlib import Path

from snapshot_runner.redact import redact_url
from snapshot_runner.torch_version import InvalidVersion, Version

# "2.14.1", "torch==2.14.1", "torch == 2.10.0.dev20251015"; nothing looser, since
# an environment must hold exactly one torch for its key to mean anything.
_SPEC = re.compile(r"^\s*(?:torch\s*==\s*)?(?P<version>[^\s=<>!~,;]+)\s*$")


class SpecError(ValueError):
    """A --torch value that is not one exact torch version."""


@dataclasses.dataclass(frozen=True)
class TorchSpec:
    version: str  # PEP 440-normalized: "2.14.1", "2.10.0.dev20251015", "2.13.0+cpu"
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    # --with / ``with``: resolved entries (see with_packages), installed after torch.
    with_: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        text: str,
        index_url: str | None = None,
        extra_index_urls: tuple[str, ...] = (),
        find_links: tuple[str, ...] = (),
        with_: tuple[str, ...] = (),
    ) -> TorchSpec:
        match = _SPEC.match(text)
        if not match:
            raise SpecError(f"--torch wants one version (2.14.1 or torch==2.10.0.dev20251015), got {text!r}")
        try:
            version = str(Version(match["version"]))
        except InvalidVersion:
            raise SpecError(f"not a torch version: {match['version']!r}") from None
        # A local directory means the same wherever the command was run from.
        links = tuple(link if "://" in link else str(Path(link).resolve()) for link in find_links)
        return cls(version, index_url, tuple(extra_index_urls), links, tuple(with_))

    @property
    def requirement(self) -> str:
        return f"torch=={self.version}"

    def installer_args(self) -> list[str]:
        """The index options, passed through to pip or uv as they are."""
        args = ["--index-url", self.index_url] if self.index_url else []
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    def key(self) -> str:
        """Directory name in the cache: torch version, Python of the env, index options, --with."""
        python = f"py{sys.version_info.major}{sys.version_info.minor}"
        key = f"torch-{self.version}-{python}"
        options = self.installer_args()
        # The same version from another index may be another build; other
        # packages make another environment. Without --with the key is what it was.
        hashed: object = {"index": options, "with": list(self.with_)} if self.with_ else options
        if hashed:
            key += "-" + hashlib.sha256(json.dumps(hashed).encode()).hexdigest()[:10]
        return key

    def describe(self) -> str:
        """For people (``envs list``, the env's marker file): index credentials masked."""
        with_ = [f"--with {redact_url(entry)}" for entry in self.with_]
        return " ".join([self.requirement, *map(redact_url, self.installer_args()), *with_])
