"""Schema drift in JSON sources: a file whose records never carry a declared field is
quarantined as `schema_mismatch` (file and column named), keys nobody declared are
reported, and the rows come back once the config names the field the file uses."""

from __future__ import annotations

from ingest_helpers import EVENTS_SOURCE, assert_rows, make_config, make_ctx, write

from vista.ingest.bronze import reader_options
from vista.ingest.drift import FileDrift, find_drift
from vista.ingest.stage import run

# the first export calls `page` `pagina`; the second has every field and an extra `ref`
EVENTS_1 = ('{"event_id": "e1", "device": "d1", "at": "2024-01-05T10:00:00", "kind": "view", '
            '"pagina": "/a"}\n\n'
            '{"event_id": "e2", "device": "d1", "at": "2024-01-05T10:01:00", "kind": "view"}\n')
EVENTS_2 = ('{"event_id": "e3", "device": "d2", "at": "2024-01-06T09:00:00", "kind": "view", '
            '"page": "/b", "ref": "mail"}\n')


def _drift(ctx) -> dict[str, tuple[list[str], list[str]]]:
    return {d["file"].rsplit("/", 1)[-1]: (d["missing"], d["extra"])
            for d in ctx.manifest.stages[0].metrics["per_source"]["web"]["schema_drift"]}


def test_a_json_file_lacking_a_declared_field_is_quarantined_until_the_config_names_it(
        spark, inputs, tmp_lake):
    write(inputs / "web" / "events_1.jsonl", EVENTS_1)
    write(inputs / "web" / "events_2.jsonl", EVENTS_2)
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, EVENTS_SOURCE))
    counts = run(ctx)

    assert (counts["rows_in"], counts["bronze"], counts["quarantined"]) == (3, 1, 2)
    assert _drift(ctx) == {"events_1.jsonl": (["page"], ["pagina"]),
                           "events_2.jsonl": ([], ["ref"])}
    quarantined = ctx.lake.read("quarantine/web")
    assert_rows(quarantined.select("reason", "details", quarantined["raw"].contains('"pagina"')),
                [("schema_mismatch", ["schema_mismatch:missing page"], True),
                 ("schema_mismatch", ["schema_mismatch:missing page"], False)])
    assert_rows(ctx.lake.read("silver/interactions").select("event_key", "content"),
                [("web:e3", "/b")])

    # a replay under the same config keeps the reason (the file is not read again)
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, EVENTS_SOURCE), replay_sources=[])
    assert (run(ctx)["replayed"], ctx.manifest.stages[0].metrics["per_source"]["web"]["replay"]
            ["reasons_updated"]) == (0, 0)

    # the fix names the field the first export uses: its rows come back with their values
    mapping = {**EVENTS_SOURCE["outputs"][0]["mapping"], "content": "pagina"}
    fixed = {**EVENTS_SOURCE,
             "schema": {**{k: v for k, v in EVENTS_SOURCE["schema"].items() if k != "page"},
                        "pagina": "string"},
             "outputs": [{**EVENTS_SOURCE["outputs"][0], "mapping": mapping}]}
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, fixed))
    assert run(ctx)["replayed"] == 2
    assert ctx.lake.read("quarantine/web").count() == 0
    assert_rows(ctx.lake.read("silver/interactions").select("event_key", "content"),
                [("web:e1", "/a"), ("web:e2", None), ("web:e3", None)])


def test_json_documents_are_checked_per_file(spark, inputs):
    doc = {**EVENTS_SOURCE, "format": "json", "path": "docs/*.json"}
    array = write(inputs / "docs" / "array.json", '[\n {"event_id": "e1", "at": "x",\n'
                  '  "kind": "view", "page": "/a", "device": "d"},\n {"event_id": "e2"}\n]\n')
    single = write(inputs / "docs" / "one.json", '{"event_id": "e3", "at": "x", "kind": "k",\n'
                   ' "device": "d", "pagina": "/c"}\n')
    cfg = make_config(inputs, doc)
    files = [array.as_uri(), single.as_uri()]
    drift = find_drift(spark, cfg.sources[0], files, reader_options(cfg.sources[0], cfg))
    assert [FileDrift(d.file.rsplit("/", 1)[-1], d.missing, d.extra) for d in drift] == [
        FileDrift("one.json", ("page",), ("pagina",))]


def test_a_source_may_load_files_that_lack_a_column(spark, inputs, tmp_lake):
    write(inputs / "web" / "events_1.jsonl", EVENTS_1)
    ctx = make_ctx(spark, tmp_lake, make_config(
        inputs, {**EVENTS_SOURCE, "on_missing_column": "load"}))
    counts = run(ctx)
    assert (counts["bronze"], counts["quarantined"]) == (2, 0)
    assert _drift(ctx) == {"events_1.jsonl": (["page"], ["pagina"])}  # still reported
    assert_rows(ctx.lake.read("silver/interactions").select("event_key", "content"),
                [("web:e1", None), ("web:e2", None)])
