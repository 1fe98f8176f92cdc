"""A full-snapshot source: a contact missing from a newer export is closed in the history,
leaves current silver with a reason, and a rebuild from bronze agrees."""

from __future__ import annotations

from ingest_helpers import assert_rows, make_config, make_ctx, write

from vista.ingest.stage import run

CRM = {
    "name": "crm",
    "format": "csv",
    "path": "crm/*.csv",
    "delivery": "snapshot",
    "schema": {"id": "string", "nombre": "string", "email": "string"},
    "key": ["id"],
    "outputs": [{"entity": "person", "mapping": {"source_record_id": "id", "first_name": "nombre",
                                                 "email": "email"}}],
}
EXPORT_1 = "id,nombre,email\nc1,Ana,ana@example.com\nc2,Luis,luis@example.com\nc3,Eva,eva@example.com\n"
EXPORT_2 = "id,nombre,email\nc1,Ana,ana@example.com\nc3,Eva,eva.new@example.com\n"  # c2 is gone


def _state(lake):
    history = lake.read("silver/person_records_history")
    return (lake.read("silver/person_records").select("record_key", "email"),
            history.select("record_key", "email", "is_current", history["valid_to"].isNotNull()),
            lake.read("silver/removed_records").select("entity", "key", "source", "reason"))


def test_a_contact_missing_from_a_newer_snapshot_is_closed(spark, inputs, tmp_lake):
    cfg = make_config(inputs, CRM)
    write(inputs / "crm" / "contacts_1.csv", EXPORT_1)
    run(make_ctx(spark, tmp_lake, cfg))
    write(inputs / "crm" / "contacts_2.csv", EXPORT_2)
    ctx = make_ctx(spark, tmp_lake, cfg)
    counts = run(ctx)

    assert counts["removed_person"] == 1
    current, history, removed = _state(ctx.lake)
    assert_rows(current, [("crm:c1", "ana@example.com"), ("crm:c3", "eva.new@example.com")])
    assert_rows(history, [
        ("crm:c1", "ana@example.com", True, False),
        ("crm:c2", "luis@example.com", False, True),  # closed, not deleted: as_of still sees it
        ("crm:c3", "eva@example.com", False, True),
        ("crm:c3", "eva.new@example.com", True, False)])
    assert_rows(removed, [("person", "crm:c2", "crm", "absent_from_snapshot")])

    before = [[tuple(r) for r in df.collect()] for df in (current, history)]
    run(make_ctx(spark, tmp_lake, cfg, full=True))  # a rebuild from bronze agrees
    again = _state(ctx.lake)
    assert_rows(again[0], before[0])
    assert_rows(again[1], before[1])
    assert_rows(again[2], [("person", "crm:c2", "crm", "absent_from_snapshot")])
