"""Build variants said plainly: drift reports (md, html, json, junit) and bisect
name it when the sides ran another torch build variant (``+cpu`` / ``+cu130``) or
device. Real captures: tests/data/semantic holds 2.13.0+cpu and 2.14.1+cu130."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapshot_runner.drift import builds
from snapshot_runner.torch_version import VersionError, build_variant

from .test_drift import run

DATA = Path(__file__).parent / "data" / "semantic"
CASE = "subclasses.two_tensor::twotensor_view"
NOTE = "Different builds: build variant cpu → cu130 (torch 2.13.0+cpu → 2.14.1+cu130)"


@pytest.mark.parametrize(
    ("text", "variant"), [("2.14.1+cu130", "cu130"), ("torch==2.13.0+cpu", "cpu"), ("2.15.0+cu132", "cu132"), ("2.14.1", ""), ("2.10.0.dev20251015+cpu", "cpu")]
)
def test_build_variant_is_the_local_version(text: str, variant: str):
    assert build_variant(text) == variant


def test_build_variant_of_no_version_is_one_line():
    with pytest.raises(VersionError, match="not a torch version: 'latest'"):
        build_variant("latest")


def test_difference_names_variant_and_device_and_nothing_when_equal():
    cpu, cuda = builds.Build("2.13.0+cpu", "cpu"), builds.Build("2.13.0+cu130", "cuda:NVIDIA H100")
    assert builds.difference(cpu, cpu) == ""
    assert builds.difference(cpu, builds.Build("2.14.1+cpu", "cpu")) == ""  # another version, the same build
    assert builds.difference(cpu, cuda) == (
        "Different builds: build variant cpu → cu130 (torch 2.13.0+cpu → 2.13.0+cu130); device cpu → cuda:NVIDIA H100: "
        "a change may be the build's, not the version's"
    )
    assert builds.build_of({"environment_line": "torch 2.11.0+cu130, cuda:NVIDIA H200, python 3.12.3"}) == builds.Build("2.11.0+cu130", "cuda:NVIDIA H200")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real 2.13.0+cpu and 2.14.1+cu130 captures recorded, and the latter once more as 2.14.0+cu130 (bisect's candidate)."""
    tmp = tmp_path_factory.mktemp("variants")
    url = f"sqlite:///{tmp / 'h.sqlite'}"
    after = json.loads((DATA / "2.13.0_to_2.14.1.2.14.1.json").read_text())
    after["environment"]["torch_version"] = "2.14.0+cu130"
    (tmp / "2.14.0.json").write_text(json.dumps(after))
    for path in (DATA / "2.13.0_to_2.14.1.2.13.0.json", tmp / "2.14.0.json", DATA / "2.13.0_to_2.14.1.2.14.1.json"):
        code, _, err = run("record", "--from-json", str(path), "--db", url)
        assert code == 0, err
    return url


@pytest.mark.parametrize("fmt", ["md", "html", "junit"])
def test_drift_reports_say_the_builds_differ(db: str, fmt: str):
    code, out, err = run("drift", "--from", "2.13.0", "--to", "2.14.1", "--db", db, "--format", fmt)
    assert code == 0, err
    shown = out.replace("&#x27;", "'").replace("&gt;", ">").replace("&amp;", "&")
    assert NOTE in shown
    assert NOTE in err  # and on the terminal


def test_drift_json_has_each_sides_build_and_the_difference(db: str):
    code, out, err = run("drift", "--from", "2.13.0", "--to", "2.14.1", "--db", db, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["from"]["build"] == {"torch_version": "2.13.0+cpu", "variant": "cpu", "device": "cpu"}
    assert report["to"]["build"]["variant"] == "cu130"
    assert report["build_difference"].startswith(NOTE)
    # The same build on both sides: nothing said.
    code, out, err = run("drift", "--from", "2.14.0", "--to", "2.14.1", "--db", db, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["build_difference"] is None and "Different builds" not in err


def test_bisect_says_which_variant_each_candidate_was(db: str):
    argv = ["bisect", f"{CASE}/aot_forward", "--db", db, "--good", "2.13.0", "--bad", "2.14.1", "--versions", "2.14.0"]
    code, text, err = run(*argv)
    assert code == 0, err
    assert "first bad: torch 2.14.0 (last good: 2.13.0)" in text
    assert "build variants: cpu: 2.13.0; cu130: 2.14.0, 2.14.1" in text
    assert "Different builds: build variant cpu → cu130 (torch 2.13.0+cpu → 2.14.0+cu130)" in text
    code, markdown, err = run(*argv, "--format", "md")
    assert code == 0, err
    assert "| 2.14.0 | bad | same as bad | history | cu130 |" in markdown
    code, out, err = run(*argv, "--format", "json")
    assert {v["version"]: v["torch_build"] for v in json.loads(out)["verdicts"]} == {"2.14.0": "2.14.0+cu130"}
