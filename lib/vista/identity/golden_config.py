"""Typed configuration of the golden record: which value of each attribute survives.

Every default is general; a deployment sets its own values under
``identity.survivorship`` in ``conf/``. The YAML shape (every key optional)::

    identity:
      survivorship:
        default_rules: [most_recent, most_frequent]
        source_priority: [crm, ecommerce]
        attributes:
          email: {rules: [source_priority, most_recent]}
          birth_date: {rules: [most_frequent, most_recent]}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vista.config.models import Section

SurvivorshipRule = Literal["source_priority", "most_recent", "most_frequent", "earliest"]

GOLDEN_ATTRIBUTES: dict[str, str] = {
    # golden column -> person_records column it survives from
    "first_name": "first_name",
    "last_name": "last_name",
    "first_name_std": "first_name_std",
    "last_name_std": "last_name_std",
    "email": "email_std",
    "phone": "phone_e164",
    "birth_date": "birth_date",
    "gender": "gender",
    "address": "address_std",
    "postal_code": "postal_code",
    "city": "city",
    "country": "country",
    "consent_email": "consent_email",
    "consent_sms": "consent_sms",
    "consent_profiling": "consent_profiling",
}


class AttributeRule(Section):
    """The survivorship rules of one golden attribute, applied in order as tie-breakers.

    ``source_priority`` overrides the global source order for this attribute.
    """

    rules: list[SurvivorshipRule] = Field(min_length=1)
    source_priority: list[str] | None = None


def _default_attribute_rules() -> dict[str, AttributeRule]:
    recent = AttributeRule(rules=["most_recent"])
    return {
        "email": AttributeRule(rules=["source_priority", "most_recent"]),
        "phone": AttributeRule(rules=["source_priority", "most_recent"]),
        "birth_date": AttributeRule(rules=["most_frequent", "source_priority", "most_recent"]),
        "gender": AttributeRule(rules=["most_frequent", "most_recent"]),
        # consent is the latest statement the person made, wherever it was made
        "consent_email": recent,
        "consent_sms": recent,
        "consent_profiling": recent,
    }


class SurvivorshipConfig(Section):
    """Which value of each attribute the golden customer record keeps.

    Rules (each one a tie-breaker for the previous; the record key breaks final ties):

    * ``source_priority``: the first source in ``source_priority`` that has a value;
    * ``most_recent``: the value with the latest ``observed_at``;
    * ``most_frequent``: the value most records of the person carry;
    * ``earliest``: the value first observed.

    Empty values (null, blank) never survive.
    """

    default_rules: list[SurvivorshipRule] = Field(
        default_factory=lambda: ["source_priority", "most_frequent", "most_recent"], min_length=1
    )
    source_priority: list[str] = Field(default_factory=list)
    attributes: dict[str, AttributeRule] = Field(default_factory=_default_attribute_rules)

    @field_validator("attributes")
    @classmethod
    def _known_attributes(cls, v: dict[str, AttributeRule]) -> dict[str, AttributeRule]:
        unknown = sorted(set(v) - set(GOLDEN_ATTRIBUTES))
        if unknown:
            raise ValueError(f"unknown golden attribute(s) {unknown}; expected some of "
                             f"{sorted(GOLDEN_ATTRIBUTES)}")
        return v

    def rules_for(self, attribute: str) -> tuple[list[str], list[str]]:
        """The rules and the source order that decide ``attribute``."""
        spec = self.attributes.get(attribute)
        if spec is None:
            return list(self.default_rules), list(self.source_priority)
        order = spec.source_priority if spec.source_priority is not None else self.source_priority
        return list(spec.rules), list(order)
