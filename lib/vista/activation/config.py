"""The ``activation`` section: destinations, consent purposes, hashing, erasure.

YAML shape (every key optional; ``conf/local.yaml`` has an annotated example)::

    activation:
      exports_root: null                    # relative destination paths: <lake.root>/_exports
      state_table: _state/activation_exports
      profile_table: gold/customer_profile
      purposes: {email_marketing: consent_email, advertising: consent_profiling,
                 analytics: null}
      destinations:
        - name: crm
          purpose: email_marketing
          identifier: {kind: source_id, id_kind: crm_id}
          profile_fields: [value_tier, country]
          segments: [{table: gold/segments_rfm, columns: {rfm_segment: segment}}]
          format: csv                       # csv | parquet | jsonl
          path: crm                         # or an absolute path / object-store URI
          mode: changes                     # full | changes
      privacy: {skip_tables: [], max_keys_per_commit: 2000}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from vista.config.models import Section

IdentifierKind = Literal["uid", "source_id", "email", "phone", "hashed_email", "hashed_phone"]
HashableField = Literal["email", "phone", "first_name", "last_name", "city", "address"]
PlainField = Literal["postal_code", "country"]


class IdentifierConfig(Section):
    """What a destination's rows are keyed by: the UID mapped back to that system's ids.

    Attributes:
        kind: ``uid`` (BI), ``source_id`` (a system's own id kind from the golden record's
            ``ids``, e.g. the CRM id), ``email`` / ``phone`` (the golden contact point,
            normalised), ``hashed_email`` / ``hashed_phone`` (normalised, then SHA-256
            in lower-case hex, as advertising platforms take them).
        id_kind: For ``source_id``: the id kind as declared in a source's ``ids``.
        all_values: One row per known value (every CRM id, every address of the person)
            instead of the golden (surviving) value only. ``source_id`` always exports
            every id the person has in that system.
    """

    kind: IdentifierKind = "uid"
    id_kind: str | None = None
    all_values: bool = False

    @model_validator(mode="after")
    def _id_kind_needed(self) -> IdentifierConfig:
        if self.kind == "source_id" and not self.id_kind:
            raise ValueError("identifier.kind source_id needs id_kind (an id kind declared in "
                             "a source's `ids`, e.g. crm_id)")
        if self.kind != "source_id" and self.id_kind:
            raise ValueError(f"identifier.id_kind is only read with kind source_id, not "
                             f"{self.kind}")
        return self


class NormalisationConfig(Section):
    """How identifiers are normalised before hashing (follow the platform's documentation).

    Attributes:
        gmail_dots: Remove the dots of the local part at ``dot_insensitive_domains``
            (Google Customer Match asks for it; most platforms do not).
        dot_insensitive_domains: Domains whose mailboxes ignore dots in the local part.
        phone_format: ``e164`` (``+34600123456``) or ``digits`` (E.164 without ``+``).
        strip_name_punctuation: Drop punctuation and digits from names and cities.
        country_case: Case of the plain (never hashed) ISO country code.
    """

    gmail_dots: bool = False
    dot_insensitive_domains: list[str] = Field(
        default_factory=lambda: ["gmail.com", "googlemail.com"])
    phone_format: Literal["e164", "digits"] = "e164"
    strip_name_punctuation: bool = False
    country_case: Literal["lower", "upper"] = "lower"


class SegmentSelect(Section):
    """Columns taken from one segment table (any table with a ``uid`` column).

    Attributes:
        table: Lake table name, e.g. ``gold/segments_rfm``. Missing at run time: an error.
        columns: Output column -> the table's column.
        where: Optional Spark SQL filter on the table's rows (e.g. ``rank <= 3``).
        many: The table has several rows per UID (intent): each column becomes a sorted
            array of the distinct values (joined with ``|`` in CSV).
    """

    table: str
    columns: dict[str, str] = Field(min_length=1)
    where: str | None = None
    many: bool = False


class DestinationConfig(Section):
    """One system that receives segments.

    Attributes:
        name: Destination name (state rows, manifest, file folder).
        enabled: Exported by the activation stage.
        purpose: Consent purpose required (a key of ``activation.purposes``); ``None``
            exports everyone (e.g. BI keyed by pseudonymous UIDs).
        identifier: What the rows are keyed by.
        profile_fields: Columns of the profile table sent as they are.
        hashed_fields: Personal fields sent only as normalised SHA-256 (ad platforms).
        plain_fields: Postcode and country: sent in clear, never hashed.
        segments: Segment columns, by table.
        format: ``csv``, ``parquet`` or ``jsonl``.
        path: Folder of this destination's exports (relative: under ``exports_root``);
            each export is a sub-folder named by run id.
        mode: ``full`` (every eligible row each time) or ``changes`` (adds, changes and
            removals against the last successful export).
        normalisation: Identifier normalisation for hashing.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    enabled: bool = True
    purpose: str | None = None
    identifier: IdentifierConfig = Field(default_factory=IdentifierConfig)
    profile_fields: list[str] = Field(default_factory=list)
    hashed_fields: list[HashableField] = Field(default_factory=list)
    plain_fields: list[PlainField] = Field(default_factory=list)
    segments: list[SegmentSelect] = Field(default_factory=list)
    format: Literal["csv", "parquet", "jsonl"] = "csv"
    path: str | None = None
    mode: Literal["full", "changes"] = "changes"
    normalisation: NormalisationConfig = Field(default_factory=NormalisationConfig)


class PseudonymiseConfig(Section):
    """Pseudonymised analyst views of gold tables.

    Attributes:
        enabled: Write ``<prefix><table>`` views with direct identifiers replaced.
        tables: Gold tables to publish as views (missing tables are skipped).
        columns: Direct-identifier columns replaced by a keyed hash (HMAC-SHA256) when
            a table has them; every other column is kept.
        key_env: Environment variable holding the HMAC key (never in ``conf/``); the
            views are not written when it is unset.
        prefix: Name prefix of the views (``gold/analyst/customer_profile``).
    """

    enabled: bool = False
    tables: list[str] = Field(default_factory=lambda: ["gold/customer_profile"])
    columns: list[str] = Field(default_factory=lambda: [
        "uid", "email", "phone", "first_name", "last_name", "address", "birth_date"])
    key_env: str = "VISTA_PSEUDONYM_KEY"
    prefix: str = "gold/analyst/"


class PrivacyConfig(Section):
    """Erasure and the suppression list.

    The suppression list (``_privacy/suppression``) and the audit table
    (``_privacy/audit``) live at fixed places under the lake, and the salt of the
    suppression hashes comes from ``$VISTA_PRIVACY_SALT``: ingest reads all three
    without this section.

    Attributes:
        skip_tables: Lake tables erasure never touches (patterns with ``*``).
        max_keys_per_commit: Row digests deleted per commit when a table holds many rows
            of the person (bounds the size of one delete condition).
    """

    skip_tables: list[str] = Field(default_factory=list)
    max_keys_per_commit: int = Field(2000, ge=1)


class ActivationConfig(Section):
    """Everything the activation stage and the privacy commands need.

    Attributes:
        exports_root: Where destinations with a relative ``path`` write (default
            ``<lake.root>/_exports``).
        state_table: Fingerprint per destination and key of the last successful export.
        profile_table: The customer card (consent columns and profile fields).
        golden_table: One row per UID with every id, email and phone.
        purposes: Consent purpose -> profile column holding that consent (``null``: the
            purpose needs no consent). An unknown (null) consent is never consent.
        destinations: The systems that receive segments.
        pseudonymise: Analyst views with keyed hashes instead of direct identifiers.
        privacy: Erasure, suppression list, audit.
    """

    exports_root: str | None = None
    state_table: str = "_state/activation_exports"
    profile_table: str = "gold/customer_profile"
    golden_table: str = "silver/golden_customer"
    purposes: dict[str, str | None] = Field(default_factory=lambda: {
        "email_marketing": "consent_email", "sms_marketing": "consent_sms",
        "advertising": "consent_profiling", "personalisation": "consent_profiling",
        "analytics": None})
    destinations: list[DestinationConfig] = Field(default_factory=list)
    pseudonymise: PseudonymiseConfig = Field(default_factory=PseudonymiseConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    @field_validator("destinations")
    @classmethod
    def _unique_names(cls, destinations: list[DestinationConfig]) -> list[DestinationConfig]:
        names = [d.name for d in destinations]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"destination names must be unique; repeated: {dupes}")
        return destinations

    @model_validator(mode="after")
    def _known_purposes(self) -> ActivationConfig:
        for d in self.destinations:
            if d.purpose is not None and d.purpose not in self.purposes:
                raise ValueError(f"destination {d.name!r}: purpose {d.purpose!r} is not one "
                                 f"of activation.purposes {sorted(self.purposes)}")
        return self

    def destination(self, name: str) -> DestinationConfig:
        """The destination called ``name``.

        Raises:
            KeyError: No destination has that name (callers turn it into a clear error).
        """
        for d in self.destinations:
            if d.name == name:
                return d
        raise KeyError(name)
