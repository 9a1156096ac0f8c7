"""`make bench-envs` (first part): making a --torch environment, uv vs pip.

For each installer, each run starts from an empty package cache of its own
(``UV_CACHE_DIR`` / ``PIP_CACHE_DIR`` under a scratch directory on the same
disk as the env cache, so uv can hardlink):

1. **not in the cache**: make an env of ``--torch`` (download, unpack, install,
   check that torch imports: what ``--torch`` does on first use);
2. **in the cache**: remove that env, make it again from the now warm cache.

Time is wall clock; extra disk is what ``du`` counts for the cache and the env
together, each inode once (a hardlinked file is not counted twice), after
minus before. Medians over ``--runs``. Target for uv with torch in the cache:
under 15 s and 300 MB; the exit status is 1 when it is missed. The scratch
directory is removed at the end (also on failure or Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.envs.cache import default_envs_dir  # noqa: E402
from snapshot_runner.envs.installer import make_torch_env, uv_binary  # noqa: E402
from snapshot_runner.envs.torch_spec import TorchSpec  # noqa: E402

TARGET_SECONDS = 15.0
TARGET_BYTES = 300 * 2**20
CACHE_VARS = {"uv": "UV_CACHE_DIR", "pip": "PIP_CACHE_DIR"}


def disk_used(*paths: Path) -> int:
    """Bytes on disk under ``paths`` together, each hardlinked inode once (``du -c``)."""
    existing = [str(p) for p in paths if p.exists()]
    if not existing:
        return 0
    out = subprocess.run(["du", "-s", "-c", "-B1", *existing], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


Result = tuple[float, int, float]  # seconds, extra bytes, seconds the installer took (the rest: the import check)


def timed_make(spec: TorchSpec, installer: str, env_dir: Path, cache: Path) -> Result:
    before = disk_used(cache)
    start = time.perf_counter()
    facts = make_torch_env(spec, env_dir, installer=installer)
    seconds = time.perf_counter() - start
    return seconds, disk_used(cache, env_dir) - before, facts["seconds"]["install"]


def bench(spec: TorchSpec, installer: str, scratch: Path, runs: int) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {"not in the cache": [], "in the cache": []}
    for run in range(runs):
        cache = scratch / f"{installer}-cache-{run}"
        os.environ[CACHE_VARS[installer]] = str(cache)
        for state in results:
            env_dir = scratch / f"{installer}-env-{run}"
            shutil.rmtree(env_dir, ignore_errors=True)
            result = timed_make(spec, installer, env_dir, cache)
            results[state].append(result)
            seconds, extra, installing = result
            print(f"  {installer} run {run + 1} {state}: {seconds:.1f} s ({installing:.1f} s installing), {extra / 2**20:,.0f} MB", file=sys.stderr, flush=True)
        shutil.rmtree(scratch / f"{installer}-env-{run}")
        shutil.rmtree(cache, ignore_errors=True)  # pip caches no wheel it found on local disk
        del os.environ[CACHE_VARS[installer]]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default="2.15.0", help="the torch to install (default: 2.15.0, a CUDA build of ~5 GB)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--installers", default="uv,pip")
    args = parser.parse_args()
    spec = TorchSpec.parse(args.torch)
    installers = [name for name in args.installers.split(",") if name]
    if "uv" in installers and not uv_binary():
        print("uv is not installed (pip install uv, or make install: the dev extra has it)", file=sys.stderr)
        return 2
    scratch = default_envs_dir().parent / f"bench-envs-{os.getpid()}"
    scratch.mkdir(parents=True)
    try:
        results = {name: bench(spec, name, scratch, args.runs) for name in installers}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"making a {spec.requirement} environment, median of {args.runs} runs (time, of which the installer, the rest being the import check; extra disk: cache + env, hardlinks once)"
    )
    for name, states in results.items():
        for state, values in states.items():
            seconds, extra, installing = (statistics.median(v[i] for v in values) for i in range(3))
            print(f"  {name:4} {state:17} {seconds:6.1f} s  ({installing:5.1f} s installing)  {extra / 2**20:9,.0f} MB")
    if "uv" not in results:
        return 0
    cached = results["uv"]["in the cache"]
    seconds, extra = statistics.median(v[0] for v in cached), statistics.median(v[1] for v in cached)
    met = seconds < TARGET_SECONDS and extra < TARGET_BYTES
    print(
        f"uv, torch in the cache: {seconds:.1f} s and {extra / 2**20:,.0f} MB: {'within' if met else 'OVER'} the {TARGET_SECONDS:.0f} s / {TARGET_BYTES // 2**20} MB target"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
