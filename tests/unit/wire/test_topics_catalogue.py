"""topics.yaml: every role present, retention per the spec's default policy."""

import pytest

from pipeline.wire.topics import load_catalogue, parse_catalogue

DAY_MS = 86_400_000
MODULES = [
    "llm-observatory",
    "llm-sentinel",
    "llm-cost-ops",
    "llm-governance-dashboard",
    "llm-registry",
    "llm-policy-engine",
]


def test_one_input_topic_per_source_module() -> None:
    cat = load_catalogue()
    assert sorted(t.module for t in cat.by_role("input")) == sorted(MODULES)


def test_metric_topics_cover_all_windows_with_spec_retention() -> None:
    cat = load_catalogue()
    expected_days = {
        "one_minute": 7,
        "five_minutes": 30,
        "fifteen_minutes": 30,
        "one_hour": 90,
        "six_hours": 90,
        "one_day": 365,
        "one_week": 365,
        "one_month": 365,
    }
    for role in ("metrics", "histograms"):
        got = {t.window: t.retention_ms // DAY_MS for t in cat.by_role(role)}
        assert got == expected_days, role


def test_error_and_output_topics_exist() -> None:
    cat = load_catalogue()
    for role in ("dead-letter", "late", "anomalies", "correlations", "internal"):
        assert cat.one(role).cleanup_policy == "delete"


def test_prefix_applies_to_every_name_and_changelogs_follow_the_app_id() -> None:
    cat = load_catalogue(prefix="t1-", app_id="app7")
    for topic in cat.topics:
        if topic.role == "changelog":
            assert topic.name.startswith("app7-") and topic.cleanup_policy == "compact"
            assert topic.configs() == {"cleanup.policy": "compact"}
        elif topic.role in ("detect-state", "correlate-state", "chains-state"):
            assert topic.name.startswith("app7-") and topic.cleanup_policy == "compact,delete"
            assert topic.configs()["cleanup.policy"] == "compact,delete"
        else:
            assert topic.name.startswith("t1-")
    assert "app7-window-state-changelog" in {t.name for t in cat.topics}


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"topics": [{"name": "a", "role": "nope", "retention_days": 1}]}, "role must be"),
        ({"topics": [{"name": "a", "role": "input", "retention_days": 0}]}, "retention_days"),
        (
            {"topics": [{"name": "a", "role": "input", "retention_days": 1}] * 2},
            "duplicate topic name",
        ),
    ],
)
def test_bad_catalogue_is_rejected_with_a_reason(doc: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_catalogue(doc)
