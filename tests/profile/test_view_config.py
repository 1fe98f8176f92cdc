"""A role view naming a field the card does not have is a config error at load time."""

from __future__ import annotations

import pytest

from vista.config import load_config
from vista.errors import ConfigError


def test_an_unknown_field_in_a_role_view_is_a_config_error_with_its_key_path(tmp_path):
    conf = tmp_path / "views.yaml"
    conf.write_text(
        "profile:\n"
        "  engagement_windows_days: [30]\n"
        "  views:\n"
        "    store: {fields: [uid, orders, timeline]}\n"
        "    marketing: {fields: [uid, email_opens_30d, email_opens_90d, lifetime_bliss]}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={})
    message = str(err.value)
    assert "profile.views" in message
    # a 90-day field does not exist when the only window is 30 days
    assert "views.marketing.fields: ['email_opens_90d', 'lifetime_bliss']" in message
    assert "views.store" not in message


def test_an_unknown_pii_field_is_a_config_error(tmp_path):
    conf = tmp_path / "pii.yaml"
    conf.write_text("profile:\n  pii_fields: [email, shoe_size]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={})
    assert "profile.pii_fields" in str(err.value) and "shoe_size" in str(err.value)
