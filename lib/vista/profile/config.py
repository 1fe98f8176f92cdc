"""The ``profile`` section of vista's configuration: the customer card's rules.

Everything a company decides about its own card lives here, not in code: which events
count as an e-mail open or a support ticket, the time windows, the value-tier rules, the
roles and the fields each one is given, which fields are personal data, and the links to
the source systems.

YAML shape (every key optional)::

    profile:
      attribution: {kind_priority: [account_id, loyalty_card], use_devices: true}
      events:
        email_sent: {channels: [email], types: [sent]}
        ...
      engagement_windows_days: [30, 90]
      intent: {window_days: 30, top_n: 5}
      preferences: {top_n: 3, premium_price_tiers: [premium]}
      value_tiers:
        - {name: top, when: "revenue >= 1000 AND orders >= 5"}
        - {name: regular, when: "orders >= 2"}
      default_tier: occasional
      pii_fields: [name, email, phone, emails, phones, address, birth_date]
      hash_key_env: VISTA_PROFILE_HASH_KEY
      views:
        store: {fields: [uid, name, value_tier, orders, ...]}
        analyst: {fields: [...], hash_pii: true}
      links: {crm: "https://crm.example.com/contact/{id}"}
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator, model_validator

from vista.config.models import Section


class AttributionConfig(Section):
    """How an order or interaction finds the UID of its person.

    Attributes:
        kind_priority: When the ids of one row point at different UIDs, the first kind
            in this list that points at exactly one UID decides. Empty (the default):
            such a row is never guessed; it stays unattributed with reason
            ``ambiguous``.
        use_devices: Rows that carry only a device (cookie) id are attributed through
            ``silver/identity_devices`` (devices seen with the accounts of one UID).
        device_kinds: Id kind -> device-key prefix, as in
            ``identity.linking.devices.device_id_kinds``; empty (the default): the
            identity section's own mapping.
    """

    kind_priority: list[str] = Field(default_factory=list)
    use_devices: bool = True
    device_kinds: dict[str, str] = Field(default_factory=dict)


class EventMatch(Section):
    """Which interactions count as one card concept: a channel and an event type.

    Attributes:
        channels: Values of ``interactions.channel`` (empty: any channel).
        types: Values of ``interactions.type`` (empty: any type of those channels).
    """

    channels: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_everything(self) -> EventMatch:
        if not self.channels and not self.types:
            raise ValueError("give channels or types (or both); an empty match would "
                             "count every interaction")
        return self


def _match(channels: list[str], types: list[str]) -> EventMatch:
    return EventMatch(channels=channels, types=types)


class EventsConfig(Section):
    """The interactions behind each engagement, service, advocacy and intent field.

    Attributes:
        email_sent: An e-mail delivered to the customer.
        email_open: An e-mail opened.
        email_click: A click in an e-mail.
        email_unsubscribe: An unsubscription.
        web: Every web and app event (sessions are the distinct ``session_attr`` values).
        web_search: A search.
        web_view: A page, product or content view (intent reads searches and views).
        ticket: A support contact (tickets and complaints alike).
        complaint: A complaint (a ticket that is a claim).
        nps: A survey answer whose ``value`` is the NPS score (0-10).
        responses: Events that answer a message (the channel the customer answers on).
        session_attr: The ``attrs`` key holding the session id of a web event.
        status_attr: The ``attrs`` key holding a ticket's status.
        open_statuses: Status values of a ticket still open (case-insensitive).
        closed_at_attr: The ``attrs`` key holding when a ticket was closed, if the
            source says; then a ticket is open at the as-of date when it was not closed
            by then (a back-test sees the ticket as it was), else by its status.
        recommend_attr: The ``attrs`` key of a survey's would-recommend answer.
        recommend_yes: Answers that mean yes (case-insensitive).
        satisfaction_min, satisfaction_max: The range of the support ``value`` (CSAT).
    """

    email_sent: EventMatch = Field(default_factory=lambda: _match(["email"], ["sent"]))
    email_open: EventMatch = Field(default_factory=lambda: _match(["email"], ["open"]))
    email_click: EventMatch = Field(default_factory=lambda: _match(["email"], ["click"]))
    email_unsubscribe: EventMatch = Field(
        default_factory=lambda: _match(["email"], ["unsubscribe"]))
    web: EventMatch = Field(default_factory=lambda: _match(["web", "app"], []))
    web_search: EventMatch = Field(default_factory=lambda: _match(["web", "app"], ["search"]))
    web_view: EventMatch = Field(default_factory=lambda: _match(["web", "app"],
                                                                ["page_view", "view"]))
    ticket: EventMatch = Field(default_factory=lambda: _match(["support"], []))
    complaint: EventMatch = Field(default_factory=lambda: _match(["support"], ["complaint"]))
    nps: EventMatch = Field(default_factory=lambda: _match(["survey"], ["nps"]))
    responses: EventMatch = Field(default_factory=lambda: _match([], ["open", "click", "reply"]))
    session_attr: str = "session_id"
    status_attr: str = "status"
    open_statuses: list[str] = Field(default_factory=lambda: ["open", "pending"])
    closed_at_attr: str | None = None
    recommend_attr: str = "would_recommend"
    recommend_yes: list[str] = Field(default_factory=lambda: ["yes", "y", "true", "1"])
    satisfaction_min: float = 1.0
    satisfaction_max: float = 5.0


class IntentConfig(Section):
    """Intent: categories searched or viewed recently and not bought since.

    Attributes:
        window_days: How far back (from the as-of date) a search or view counts.
        top_n: At most this many categories on the card, most events first.
    """

    window_days: int = Field(30, ge=1)
    top_n: int = Field(5, ge=1)


class PreferencesConfig(Section):
    """Preferences read from the order lines.

    Attributes:
        top_n: Categories and brands kept on the card, most spend first.
        premium_price_tiers: ``order_lines.price_tier`` values that are premium.
        online_channels: ``orders.channel`` values that are online (the rest is
            offline: stores, call centre).
    """

    top_n: int = Field(3, ge=1)
    premium_price_tiers: list[str] = Field(default_factory=lambda: ["premium"])
    online_channels: list[str] = Field(default_factory=lambda: ["online", "web", "app"])


class TierRule(Section):
    """One value-tier rule: the first rule whose condition holds names the tier.

    Attributes:
        name: The tier's name.
        when: A Spark SQL condition over the profile's columns (``revenue``,
            ``orders``, ``recency_days``, ``avg_basket``, ``tenure_days``, ...).
    """

    name: str = Field(min_length=1)
    when: str = Field(min_length=1)


class ViewConfig(Section):
    """A role's view of the card.

    Attributes:
        fields: The card fields this role is given (``uid`` is always first). The
            pseudo-field ``timeline`` lets ``vista profile show`` print the recent
            purchases and contacts.
        hash_pii: Replace the role's PII fields (``pii_fields``) by keyed hashes.
        description: What the role uses the card for (shown in ``vista profile show``).
    """

    fields: list[str] = Field(min_length=1)
    hash_pii: bool = False
    description: str = ""


class ProfileConfig(Section):
    """Everything the profile stage needs (see the module docstring for the YAML).

    Attributes:
        attribution: How activity finds its UID.
        events: Which interactions feed which card fields.
        engagement_windows_days: Engagement counts are kept for each window (days back
            from the as-of date), e.g. ``email_opens_30d``.
        intent: The intent window.
        preferences: Top categories and brands, premium tiers.
        value_tiers: Ordered rules naming the value tier; the first that holds wins.
        default_tier: The tier of a customer no rule matched.
        pii_fields: Card fields holding personal data (never logged; hashed in views
            with ``hash_pii``).
        hash_key_env: Environment variable with the key of the PII hashes.
        views: Role name -> the fields that role is given (``gold/profile_<role>``).
        links: Source name -> URL template with ``{id}``: one link per source id.
        timeline_events: How many recent orders and contacts ``profile show`` prints.
    """

    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    engagement_windows_days: list[int] = Field(default_factory=lambda: [30, 90], min_length=1)
    intent: IntentConfig = Field(default_factory=IntentConfig)
    preferences: PreferencesConfig = Field(default_factory=PreferencesConfig)
    value_tiers: list[TierRule] = Field(default_factory=lambda: [
        TierRule(name="high", when="orders >= 5 AND recency_days <= 180"),
        TierRule(name="medium", when="orders >= 2 AND recency_days <= 365"),
        TierRule(name="low", when="orders >= 1"),
    ])
    default_tier: str = "none"
    pii_fields: list[str] = Field(default_factory=lambda: [
        "name", "first_name", "last_name", "email", "phone", "emails", "phones",
        "address", "postal_code", "birth_date", "source_ids", "links"])
    hash_key_env: str = "VISTA_PROFILE_HASH_KEY"
    views: dict[str, ViewConfig] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)
    timeline_events: int = Field(8, ge=0)

    @field_validator("engagement_windows_days")
    @classmethod
    def _positive_windows(cls, v: list[int]) -> list[int]:
        if any(d < 1 for d in v):
            raise ValueError(f"windows are days back from the as-of date, >= 1; found {v}")
        return sorted(set(v))

    @field_validator("links")
    @classmethod
    def _templates(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [s for s, t in v.items() if t.count("{id}") != 1]
        if bad:
            raise ValueError(f"a link template holds '{{id}}' exactly once; check {bad}")
        return v

    @field_validator("views")
    @classmethod
    def _role_names(cls, v: dict[str, ViewConfig], info: ValidationInfo
                    ) -> dict[str, ViewConfig]:
        bad = [r for r in v if not r.replace("_", "").isalnum() or not r.islower()]
        if bad:
            raise ValueError(f"role names are lower-case letters, digits and _ (they name "
                             f"tables gold/profile_<role>); found {bad}")
        windows = info.data.get("engagement_windows_days")
        if windows is not None:  # else that key's own error is reported
            unknown = {r: _unknown_fields(view.fields, windows) for r, view in v.items()}
            named = "; ".join(f"views.{r}.fields: {u}" for r, u in unknown.items() if u)
            if named:
                raise ValueError(f"a role is given only card fields (vista.profile.FIELDS, "
                                 f"README 'The customer card') or timeline; unknown: {named}")
        return v

    @field_validator("pii_fields")
    @classmethod
    def _pii_known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        windows = info.data.get("engagement_windows_days")
        unknown = _unknown_fields(v, windows) if windows is not None else []
        if unknown:
            raise ValueError(f"unknown card field(s) {unknown} (vista.profile.FIELDS)")
        return v


def _unknown_fields(names: list[str], windows: list[int]) -> list[str]:
    # imported here: the field catalogue's module needs pyspark, which plain config
    # loading otherwise does not import
    from vista.profile.views import unknown_fields

    return unknown_fields(names, windows)
