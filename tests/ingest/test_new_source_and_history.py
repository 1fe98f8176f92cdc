"""A source declared in YAML only reaches silver; its changes are kept as SCD2 history."""

from __future__ import annotations

import datetime as dt
import json

from ingest_helpers import assert_rows, make_ctx, write
from pyspark.sql import functions as F

from vista.ingest import load_ingest_config
from vista.ingest.history import as_of
from vista.ingest.stage import run

# A helpdesk export with its own field names; it feeds person records (the contact) and
# interactions (the ticket). Nothing in lib/ knows about it.
SOURCES_YAML = """
ingest:
  inputs_root: {root}
  reporting_currency: EUR
  currency_rates: {{EUR: 1.0}}
  sources:
    - name: helpdesk
      format: json
      path: helpdesk/*.json
      schema:
        ticket_no: string
        kunde: string
        mail: string
        telefon: string
        land: string
        geaendert: string
        thema: string
        newsletter: string
      key: [ticket_no]
      ids: {{helpdesk_customer: kunde}}
      default_country: DE
      outputs:
        - entity: person
          where: "kunde IS NOT NULL"
          mapping:
            source_record_id: kunde
            email: mail
            phone: telefon
            country: land
            consent_email: {{field: newsletter, true_values: [ja], false_values: [nein]}}
            observed_at: {{field: geaendert, formats: ["dd.MM.yyyy HH:mm"]}}
        - entity: interaction
          mapping:
            event_id: ticket_no
            ts: {{field: geaendert, formats: ["dd.MM.yyyy HH:mm"]}}
            channel: "'support'"
            type: "'ticket'"
            category: lower(thema)
"""


def _ticket(no, email, when, newsletter="ja"):
    return {"ticket_no": no, "kunde": "K1", "mail": email, "telefon": "030 1234567",
            "land": "Deutschland", "geaendert": when, "thema": "Lieferung", "newsletter": newsletter}


def test_yaml_source_reaches_silver_and_email_change_is_historised(spark, inputs, tmp_lake):
    conf = inputs.parent / "helpdesk.yaml"
    conf.write_text(SOURCES_YAML.format(root=inputs), encoding="utf-8")
    cfg = load_ingest_config(conf)
    write(inputs / "helpdesk" / "export_1.json",
          json.dumps([_ticket("T1", " Ana@Example.COM ", "01.03.2024 09:30")]))
    run(make_ctx(spark, tmp_lake, cfg))
    write(inputs / "helpdesk" / "export_2.json",
          json.dumps([_ticket("T2", "ana.new@example.com", "15.04.2024 12:00", "nein")]))
    ctx = make_ctx(spark, tmp_lake, cfg)
    run(ctx)

    lake = ctx.lake
    assert_rows(
        lake.read("silver/person_records").select(
            "record_key", "email_std", "phone_e164", "country", "consent_email",
            F.to_json("ids").alias("ids")),
        [("helpdesk:K1", "ana.new@example.com", "+49301234567", "DE", False,
          '{"helpdesk_customer":"K1"}')])
    assert_rows(
        lake.read("silver/interactions").select("event_key", "channel", "type", "category"),
        [("helpdesk:T1", "support", "ticket", "lieferung"),
         ("helpdesk:T2", "support", "ticket", "lieferung")])
    history = lake.read("silver/person_records_history")
    assert_rows(
        history.select("record_key", "email_std", "consent_email", "valid_from", "valid_to",
                       "is_current"),
        [("helpdesk:K1", "ana@example.com", True, dt.datetime(2024, 3, 1, 9, 30),
          dt.datetime(2024, 4, 15, 12, 0), False),
         ("helpdesk:K1", "ana.new@example.com", False, dt.datetime(2024, 4, 15, 12, 0), None,
          True)])
    assert_rows(as_of(history, "2024-04-01").select("email_std"), [("ana@example.com",)])
