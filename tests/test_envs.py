"""The --torch env cache: spec keys, reuse, half-made envs, concurrent makers,
prune, and a real pip failure. The envs here are real (``venv --without-pip``)
but hold no torch; ``test_multi_torch.py`` installs a real one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from snapshot_runner.envs.cache import LAST_USED, MARKER, EnvCache
from snapshot_runner.envs.torch_spec import SpecError, TorchSpec

from .conftest import REPO, run_cli


def cheap_build(counter: Path | None = None, fail: bool = False):  # type: ignore[no-untyped-def]
    """Make a real (torch-less) venv; count the builds; optionally fail half-way."""

    def build(env_dir: Path) -> dict[str, str]:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
        if counter:
            with counter.open("a") as f:
                f.write(f"{os.getpid()}\n")
        if fail:
            raise RuntimeError("install died half-way")
        return {"spec": f"cheap {env_dir.name}", "torch_version": "none"}

    return build


# --- spec and key ------------------------------------------------------------


@pytest.mark.parametrize("text", ["2.14.1", "torch==2.14.1", " torch == 2.14.01 "])
def test_spellings_of_one_version_share_a_key(text: str) -> None:
    spec = TorchSpec.parse(text)
    assert spec.requirement == "torch==2.14.1"
    assert spec.key() == TorchSpec.parse("2.14.1").key()


def test_nightly_and_local_versions_are_kept_exact() -> None:
    assert TorchSpec.parse("torch==2.10.0.dev20251015").requirement == "torch==2.10.0.dev20251015"
    assert TorchSpec.parse("2.13.0+cpu").key() != TorchSpec.parse("2.13.0").key()


def test_index_options_are_part_of_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = TorchSpec.parse("2.14.1")
    nightly = TorchSpec.parse("2.14.1", index_url="https://download.pytorch.org/whl/nightly/cpu")
    assert len({plain.key(), nightly.key(), TorchSpec.parse("2.14.1", extra_index_urls=("https://x",)).key()}) == 3
    monkeypatch.chdir(tmp_path)
    relative = TorchSpec.parse("2.14.1", find_links=("wheels",))
    assert relative.find_links == (str(tmp_path / "wheels"),)
    assert relative.installer_args() == ["--find-links", str(tmp_path / "wheels")]


@pytest.mark.parametrize("text", ["torch>=2.6", "2.x", "torch==", "numpy==2.0"])
def test_loose_or_bad_specs_are_refused(text: str) -> None:
    with pytest.raises(SpecError):
        TorchSpec.parse(text)


# --- the cache ---------------------------------------------------------------


def test_a_made_env_is_reused(tmp_path: Path) -> None:
    cache, counter = EnvCache(tmp_path / "envs"), tmp_path / "builds"
    with cache.use_env("k", cheap_build(counter)) as first:
        assert subprocess.run([str(first), "-c", "pass"]).returncode == 0
    with cache.use_env("k", cheap_build(counter)) as second:
        assert second == first
    assert len(counter.read_text().splitlines()) == 1


def test_a_failed_make_leaves_nothing_to_reuse(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs")
    with pytest.raises(RuntimeError, match="half-way"), cache.use_env("k", cheap_build(fail=True)):
        pass
    assert not (cache.root / "k").exists()


def test_a_half_made_env_is_made_again(tmp_path: Path) -> None:
    # What a killed install leaves: a directory with a python but no marker.
    cache, counter = EnvCache(tmp_path / "envs"), tmp_path / "builds"
    cheap_build()(cache.root / "k")
    (cache.root / "k" / "leftover").write_text("from the killed run")
    assert [env.complete for env in cache.envs()] == [False]
    with cache.use_env("k", cheap_build(counter)):
        pass
    assert counter.exists() and not (cache.root / "k" / "leftover").exists()
    assert [env.complete for env in cache.envs()] == [True]


def test_concurrent_makers_make_it_once(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from snapshot_runner.envs.cache import EnvCache
        from tests.test_envs import cheap_build

        def slow(env_dir):
            facts = cheap_build(Path({str(tmp_path / "builds")!r}))(env_dir)
            time.sleep(1)  # the other maker arrives while this one is half-way
            return facts

        with EnvCache(Path({str(tmp_path / "envs")!r})).use_env("k", slow) as python:
            print(python)
    """)
    makers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in makers]
    assert [p.returncode for p in makers] == [0, 0]
    assert outputs[0] == outputs[1] == str(tmp_path / "envs" / "k" / "bin" / "python")
    assert len((tmp_path / "builds").read_text().splitlines()) == 1


def _cache_with_three_envs_and_a_half_made_one(root: Path) -> EnvCache:
    cache = EnvCache(root)
    for age, key in enumerate(["newest", "middle", "oldest"]):
        with cache.use_env(key, cheap_build()):
            pass
        stamp = time.time() - 3600 * (age + 1)
        os.utime(cache.root / key / LAST_USED, (stamp, stamp))
    cheap_build()(cache.root / "half")
    return cache


def test_prune_keeps_the_most_recently_used(tmp_path: Path) -> None:
    cache = _cache_with_three_envs_and_a_half_made_one(tmp_path / "envs")
    listed = run_cli("envs", "list", "--envs-dir", str(cache.root))
    assert listed.returncode == 0
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert [key for key in rows if key != "half"] == ["newest", "middle", "oldest"]
    assert "(half-made)" in rows["half"]

    pruned = run_cli("envs", "prune", "--keep", "1", "--envs-dir", str(cache.root))
    assert pruned.returncode == 0, pruned.stderr
    assert sorted(line.split()[1] for line in pruned.stdout.splitlines()) == ["half", "middle", "oldest"]
    assert [env.key for env in cache.envs()] == ["newest"]


def test_prune_spares_an_env_in_use(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs")
    with cache.use_env("busy", cheap_build()):
        pruned = cache.prune(keep=0)
    assert pruned.removed == [] and [env.key for env in pruned.busy] == ["busy"]
    assert (cache.root / "busy" / MARKER).exists()


def test_prune_refuses_a_negative_keep(tmp_path: Path) -> None:
    proc = run_cli("envs", "prune", "--keep", "-1", "--envs-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "snapshot-runner: error: --keep wants a number of environments >= 0, got -1"


MB = 2**20


def _sized_cache(root: Path, outside: Path) -> EnvCache:
    """Three envs of 2 MB each, used an hour apart; each also links one 3 MB
    file from ``outside`` (as uv links torch from its package cache)."""
    outside.mkdir()
    (outside / "libtorch.so").write_bytes(os.urandom(3 * MB))
    cache = EnvCache(root)
    for age, key in enumerate(["newest", "middle", "oldest"]):

        def build(env_dir: Path) -> dict[str, str]:
            env_dir.mkdir(parents=True)
            (env_dir / "own.bin").write_bytes(os.urandom(2 * MB))
            os.link(outside / "libtorch.so", env_dir / "libtorch.so")
            os.link(env_dir / "own.bin", env_dir / "own-again.bin")  # counted once
            return {"spec": env_dir.name, "torch_version": "none"}

        with cache.use_env(key, build):
            pass
        stamp = time.time() - 3600 * (age + 1) - 86400 * age
        os.utime(cache.root / key / LAST_USED, (stamp, stamp))
    return cache


def test_sizes_count_each_hardlinked_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    cache = _sized_cache(tmp_path / "envs", tmp_path / "uv-cache")
    # One env: its own 2 MB once (two names) and the linked 3 MB; all three: 3 x 2 + 3.
    assert [round(env.size() / MB, 1) for env in cache.envs()] == [5.0, 5.0, 5.0]
    assert (round(cache.usage().on_disk / MB, 1), round(cache.usage().shared / MB, 1)) == (9.0, 3.0)
    listed = run_cli("envs", "list", "--envs-dir", str(cache.root))
    assert listed.returncode == 0, listed.stderr
    # uv's cache holds the linked 3 MB and nothing else: with it, still 9 MB, each file once.
    assert listed.stderr.strip() == (
        f"3 environments in {cache.root}: 9 MB on disk (hardlinked files once, 3 MB of it shared with uv's package cache); "
        f"with uv's package cache {tmp_path / 'uv-cache'}: 9 MB in all (`uv cache clean` empties it)"
    )
    (tmp_path / "uv-cache" / "wheel-only-in-the-cache").write_bytes(os.urandom(MB))
    listed = run_cli("envs", "list", "--envs-dir", str(cache.root))
    assert listed.stderr.strip().endswith(f"with uv's package cache {tmp_path / 'uv-cache'}: 10 MB in all (`uv cache clean` empties it)")


def test_prune_to_a_size_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    cache = _sized_cache(tmp_path / "envs", tmp_path / "uv-cache")
    pruned = run_cli("envs", "prune", "--max-size", "8M", "--envs-dir", str(cache.root))
    assert pruned.returncode == 0, pruned.stderr
    # 9.4 MB -> 7.3 MB: only the oldest goes; the linked file stays in the outside cache, not freed.
    assert [line.split()[1] for line in pruned.stdout.splitlines()] == ["oldest"]
    assert [env.key for env in cache.envs()] == ["newest", "middle"]
    assert pruned.stderr.startswith("1 removed, 2 MB freed; 2 environments in")
    assert (tmp_path / "uv-cache" / "libtorch.so").stat().st_nlink == 3


def test_prune_older_than_days(tmp_path: Path) -> None:
    cache = _sized_cache(tmp_path / "envs", tmp_path / "uv-cache")  # used 1 h, 1 d 2 h, 2 d 3 h ago
    pruned = run_cli("envs", "prune", "--older-than", "1", "--envs-dir", str(cache.root))
    assert pruned.returncode == 0, pruned.stderr
    assert sorted(line.split()[1] for line in pruned.stdout.splitlines()) == ["middle", "oldest"]
    assert [env.key for env in cache.envs()] == ["newest"]


def test_prune_named_environments_only(tmp_path: Path) -> None:
    cache = _cache_with_three_envs_and_a_half_made_one(tmp_path / "envs")
    pruned = run_cli("envs", "prune", "middle", "newest", "--envs-dir", str(cache.root))
    assert pruned.returncode == 0, pruned.stderr
    # The half-made one goes too, as with every prune; "oldest" (least recently used) stays.
    assert sorted(line.split()[1] for line in pruned.stdout.splitlines()) == ["half", "middle", "newest"]
    assert [env.key for env in cache.envs()] == ["oldest"]


def test_prune_of_an_unknown_key_is_one_line_and_removes_nothing(tmp_path: Path) -> None:
    cache = _cache_with_three_envs_and_a_half_made_one(tmp_path / "envs")
    pruned = run_cli("envs", "prune", "middle", "2.99.0-cpu", "--envs-dir", str(cache.root))
    assert (pruned.returncode, pruned.stdout) == (2, "")
    assert pruned.stderr.strip() == f"snapshot-runner: error: no environment 2.99.0-cpu in {cache.root} (see `snapshot-runner envs list`)"
    assert sorted(env.key for env in cache.envs()) == ["half", "middle", "newest", "oldest"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-size", "lots"], "--max-size: not a size: 'lots' (e.g. 500M, 20G)"),
        (["--older-than", "-2"], "--older-than wants a number of days >= 0, got -2"),
    ],
)
def test_prune_bad_bounds_are_one_line(tmp_path: Path, argv: list[str], message: str) -> None:
    proc = run_cli("envs", "prune", *argv, "--envs-dir", str(tmp_path))
    assert (proc.returncode, proc.stderr.strip()) == (2, f"snapshot-runner: error: {message}")


# --- real installer failures --------------------------------------------------


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_torch_the_installer_cannot_install_is_one_line_and_no_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installer: str) -> None:
    monkeypatch.setenv("SNAPSHOT_RUNNER_INSTALLER", installer)
    proc = run_cli("capture", "-k", "twotensor_view", "--torch", "9.9", "--envs-dir", str(tmp_path))
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("snapshot-runner: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert errors[0].startswith(f"snapshot-runner: error: {installer} could not install torch==9.9: ")
    assert "9.9" in errors[0].split(": ", 2)[2]  # the installer's own reason names the version
    assert EnvCache(tmp_path).envs() == []


def test_pip_is_the_fallback_and_says_why(tmp_path: Path) -> None:
    """A pip setting uv cannot honour: the env is made with pip, and the reason is said."""
    config = tmp_path / "pip.conf"
    config.write_text("[install]\nonly-binary = :all:\n")
    env = {**os.environ, "PIP_CONFIG_FILE": str(config), "PYTHONWARNINGS": "ignore"}
    env.pop("SNAPSHOT_RUNNER_INSTALLER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "snapshot_runner.cli", "capture", "-k", "twotensor_view", "--torch", "9.9", "--envs-dir", str(tmp_path / "envs")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 2
    assert "installing with pip, a full copy of torch per environment: uv cannot honour pip's install.only-binary" in proc.stderr
    assert "snapshot-runner: error: pip could not install torch==9.9: " in proc.stderr


def test_uv_is_a_dependency_and_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import uv

    from snapshot_runner.envs.installer import Installer, choose_installer, uv_binary

    monkeypatch.delenv("SNAPSHOT_RUNNER_INSTALLER", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no pip setting that would send it to pip
    assert uv_binary() == str(uv.find_uv_bin())
    assert choose_installer() == (Installer.UV, None)
    assert choose_installer(Installer.PIP) == (Installer.PIP, "--installer pip")


def test_installer_pip_is_said_in_one_line(tmp_path: Path) -> None:
    proc = run_cli("capture", "-k", "twotensor_view", "--torch", "9.9", "--installer", "pip", "--envs-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "installing with pip, a full copy of torch per environment: --installer pip\n" in proc.stderr
    assert "snapshot-runner: error: pip could not install torch==9.9: " in proc.stderr


def test_installer_goes_with_torch(tmp_path: Path) -> None:
    proc = run_cli("capture", "-k", "twotensor_view", "--installer", "uv")
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        "snapshot-runner: error: --installer goes with --torch: it makes --torch environments",
    )


def test_a_bad_spec_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("capture", "--torch", "torch>=2", "--envs-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "snapshot-runner: error: --torch wants one version (2.14.1 or torch==2.10.0.dev20251015), got 'torch>=2'"
