"""HUB_* variables through one typed HubEnvironment (pydantic-settings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.runtime.settings import HubEnvironment, load_settings, read_environment

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HubEnvironment.model_fields:
        alias = HubEnvironment.model_fields[name].validation_alias
        monkeypatch.delenv(str(alias), raising=False)


def test_defaults_empty_values_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_WINDOWS", "")  # empty: the default
    monkeypatch.setenv("HUB_DETECT_WINDOWS", " 1m, 1h ,")
    monkeypatch.setenv("HUB_ALLOWED_LATENESS_S", "7.5")
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    settings = load_settings()
    assert settings.windows == ("1m", "5m", "15m", "1h", "6h", "1d", "1w", "30d")
    assert settings.detect_windows == ("1m", "1h")
    assert settings.allowed_lateness_s == 7.5
    assert settings.security.protocol == "SASL_SSL"
    assert settings.kafka_bootstrap == "127.0.0.1:9092"


def test_a_wrong_value_stops_with_the_variable_and_what_to_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_MAX_TAG_VALUES", "many")
    monkeypatch.setenv("HUB_API_HEARTBEAT_S", "0")
    with pytest.raises(SystemExit) as stopped:
        read_environment()
    message = str(stopped.value)
    assert "HUB_MAX_TAG_VALUES='many'" in message and "valid integer" in message
    assert "HUB_API_HEARTBEAT_S='0'" in message and "greater than 0" in message


def test_every_variable_read_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text() + (ROOT / "docs" / "API.md").read_text()
    documented = set(re.findall(r"HUB_[A-Z0-9_]+", readme))
    read = {str(f.validation_alias) for f in HubEnvironment.model_fields.values()}
    assert read - documented == set()
