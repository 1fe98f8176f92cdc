"""Config loading: typed models, includes, environment overrides, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from vista.config import load_config
from vista.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_profiles_load() -> None:
    local = load_config(REPO / "conf" / "local.yaml", env={})
    assert local.lake.engine == "auto"
    assert local.mlflow.tracking_uri.startswith("sqlite:///")
    cluster = load_config(REPO / "conf" / "cluster.yaml", env={})
    assert cluster.lake.engine == "delta-spark"
    assert cluster.lake.root.startswith("s3a://")


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path: Path) -> None:
    blocker = write(tmp_path / "a-file", "not a folder")
    bad = write(tmp_path / "bad.yaml", f"""
lake:
  root: {blocker}
  engine: spark
  rooot: typo
spark:
  shuffle_partitions: many
run:
  stages: [ingest, dance]
unknown_section: 1
""")
    with pytest.raises(ConfigError) as info:
        load_config(bad, env={})
    paths = sorted(p.path for p in info.value.problems)
    assert paths == sorted([
        "lake.root", "lake.engine", "lake.rooot", "spark.shuffle_partitions", "run.stages",
        "unknown_section",
    ])
    text = str(info.value)
    assert "6 problem(s)" in text and "'spark'" in text and "dance" in text


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "broken.yaml", "lake:\n  root: [unclosed\n")
    with pytest.raises(ConfigError, match="line 2|line 3"):
        load_config(bad, env={})


def test_environment_overrides_any_key_with_yaml_typing(tmp_path: Path) -> None:
    conf = write(tmp_path / "c.yaml", "spark:\n  shuffle_partitions: 8\n")
    env = {
        "VISTA__SPARK__SHUFFLE_PARTITIONS": "64",
        "VISTA__LAKE__ROOT": str(tmp_path / "lake"),
        "VISTA__SPARK__UI": "true",
        "VISTA__RUN__STAGES": "[ingest, identity]",
        "UNRELATED": "x",
    }
    cfg = load_config(conf, env=env)
    assert (cfg.spark.shuffle_partitions, cfg.spark.ui) == (64, True)
    assert cfg.lake.root == str(tmp_path / "lake")
    assert cfg.run.stages == ["ingest", "identity"]


def test_environment_override_with_bad_value_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"VISTA__SPARK__SHUFFLE_PARTITIONS": "lots",
                               "VISTA__LAKE__NOPE": "1"})
    assert sorted(p.path for p in info.value.problems) == ["lake.nope",
                                                          "spark.shuffle_partitions"]


def test_includes_merge_and_the_including_file_wins(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "spark:\n  shuffle_partitions: 3\n  driver_memory: 1g\n")
    top = write(tmp_path / "top.yaml", "include: [base.yaml]\nspark:\n  driver_memory: 2g\n")
    cfg = load_config(top, env={})
    assert (cfg.spark.shuffle_partitions, cfg.spark.driver_memory) == (3, "2g")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", env={})


def test_config_is_frozen() -> None:
    cfg = load_config(None, env={})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        cfg.lake.root = "elsewhere"  # type: ignore[misc]


def test_readme_add_your_own_source_example_is_valid_config(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Add your own source"):]
    start = section.index("```yaml") + len("```yaml")
    block = section[start: section.index("```", start)]
    conf = write(tmp_path / "own.yaml", block)
    cfg = load_config(conf, env={})
    (source,) = cfg.ingest.sources
    assert source.name == "helpdesk"
    assert [o.entity for o in source.outputs] == ["person", "interaction"]


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("  \n\n", "is empty"),
    ("# only a comment\n# and another\n", "is empty"),
    ("- lake\n- ingest\n", "must hold a mapping of sections"),
    ("include:\nlake: {engine: auto}\n", "include names no file"),
    ("include: []\n", "include names no file"),
    ("include: [blank.yaml]\n", "blank.yaml is empty"),
])
def test_an_empty_or_shapeless_file_is_an_error_not_the_defaults(
        tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "blank.yaml", "# nothing here yet\n")
    conf = write(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(conf, env={})
    assert len(info.value.problems) == 1
    assert "\n" not in str(info.value)


def test_run_on_an_empty_config_exits_with_one_line_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from vista.cli import main

    empty = write(tmp_path / "empty.yaml", "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VISTA_CONF", raising=False)
    for command in (["run", "--conf", str(empty)], ["config", "--conf", str(empty)]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == [
            f"vista: a problem in the configuration in {empty}: <root>: empty.yaml is empty "
            "(or holds only comments); expected a mapping of sections such as lake:, ingest:; "
            "run without --conf for the defaults"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.yaml"]  # no .vista/ lake


def test_a_lake_location_is_checked_when_local_in_any_spelling_and_never_when_remote(
        tmp_path: Path) -> None:
    """A file that stands where the lake folder should be is reported whether the location
    is a path or a ``file:`` URI; object-store and HDFS URIs are left to the run."""
    from vista.config.loader import check_paths
    from vista.errors import ConfigProblem

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    for root, reported in ((str(blocker), True), (blocker.as_uri(), True),
                           ("s3a://bucket/lake", False), ("dbfs:/lake", False),
                           ("hdfs://namenode:8020/lake", False)):
        problems: list[ConfigProblem] = []
        check_paths({"lake": {"root": root}}, problems)
        assert bool(problems) is reported, (root, problems)
