"""[tool.snapshot-runner]: found by walking up, paths relative to its file,
bad keys and values one line naming the key; flags override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshot_runner.config import ConfigError, find_config


def _project(root: Path, section: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = 'lib'\n\n[tool.snapshot-runner]\n{section}\n")
    return root


def test_found_from_a_subdirectory_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo", 'cases-dir = "goldens/cases"\nsnapshots-dir = "goldens/snaps"\ndb = "db/h.sqlite"\ntrack = ["torchao"]')
    (root / "src" / "deep").mkdir(parents=True)
    config = find_config(root / "src" / "deep")
    assert config.path == root / "pyproject.toml"
    assert config.cases_dir == root / "goldens" / "cases"
    assert config.snapshots_dir == root / "goldens" / "snaps"
    assert config.db == f"sqlite:///{root / 'db' / 'h.sqlite'}"
    assert config.track == ("torchao",)


def test_a_pyproject_without_the_section_is_passed_over(tmp_path: Path) -> None:
    root = _project(tmp_path, 'db = "postgresql://u@host/db"')
    (root / "sub").mkdir()
    (root / "sub" / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    config = find_config(root / "sub")
    assert config.path == root / "pyproject.toml"
    assert config.db == "postgresql://u@host/db"  # a URL stays as written


def test_no_section_anywhere_is_an_empty_config(tmp_path: Path) -> None:
    config = find_config(tmp_path)
    assert config.path is None and config.cases_dir is None and config.with_ == ()


def test_with_entries_resolve_paths_against_the_file(tmp_path: Path) -> None:
    root = _project(tmp_path, 'with = ["torchao==0.18.0", "-e .", "./vendor/lib"]')
    (root / "vendor" / "lib").mkdir(parents=True)
    config = find_config(root)
    assert config.with_ == ("torchao==0.18.0", f"-e {root}", str(root / "vendor" / "lib"))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('case-dir = "cases"', "unknown key 'case-dir' in [tool.snapshot-runner] (did you mean 'cases-dir'?)"),
        ('colour = "red"', "unknown key 'colour' in [tool.snapshot-runner]; known keys: cases-dir,"),
        ('with = "torchao"', "[tool.snapshot-runner] with must be a list of non-empty strings"),
        ("cases-dir = 3", "[tool.snapshot-runner] cases-dir must be a non-empty string"),
        ('with = ["./missing"]', "with entry './missing': no such path:"),
        ('with = ["torchao=>1"]', "with entry 'torchao=>1' is not a requirement, a path or -e PATH"),
        ("track = [", "not valid TOML"),
        (
            'normalize = [{ name = "ids", pattern = "_(\\\\d+", replace = "_<id>" }]',
            "normalize rule 'ids': pattern '_(\\\\d+' is not a regular expression: missing ),",
        ),
        (
            'normalize = [{ name = "ids", pattern = "_\\\\d+", replace = "\\\\g<id>" }]',
            "normalize rule 'ids': replace '\\\\g<id>' does not fit its pattern: unknown group name 'id'",
        ),
        (
            'normalize = [{ name = "ids", pattern = "x", replace = "y", flags = "i" }]',
            "normalize[0]: unknown key 'flags' (a rule has exactly name, pattern, replace)",
        ),
        ('normalize = [{ name = "ids", pattern = "x" }]', "normalize[0]: missing key 'replace'"),
        ('normalize = { name = "ids" }', "normalize must be a list of tables { name, pattern, replace }"),
        ('normalize = [{ name = "a", pattern = "x", replace = "" }, { name = "a", pattern = "y", replace = "" }]', "normalize: two rules named 'a'"),
    ],
)
def test_bad_sections_are_one_line_naming_the_key(tmp_path: Path, section: str, message: str) -> None:
    _project(tmp_path, section)
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert text.startswith(str(tmp_path / "pyproject.toml"))


def test_normalize_rules_are_read_in_order(tmp_path: Path) -> None:
    _project(tmp_path, "normalize = [{ name = \"td_ids\", pattern = '_\\d+_c(\\d+)', replace = '_<id>_c\\1' }, { name = \"b\", pattern = 'x', replace = 'y' }]")
    rules = find_config(tmp_path).normalize
    assert [r.name for r in rules] == ["td_ids", "b"]
    assert rules[0].apply("G['_140220710397776_c1'].Tensor") == "G['_<id>_c1'].Tensor"
