"""/metrics text is written by prometheus_client and read back by its own parser."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from agents.api.routes.prometheus import Exposition


def test_what_is_written_parses_back_to_the_same_samples() -> None:
    out = Exposition()
    out.family("hub_api_up", "gauge", "1 while the API process answers")
    out.sample("hub_api_up", 1)
    out.family("hub_worker_events_total", "counter", "Events consumed")
    awkward = 'w-1 "quoted" \\ back\nslash'
    out.sample("hub_worker_events_total", 1234567, (("worker", awkward),))
    out.sample("hub_worker_events_total", 3, (("worker", "w-2"),))
    out.family("gen_ai_server_time_to_first_token_seconds", "gauge", "TTFT")
    out.sample("gen_ai_server_time_to_first_token_seconds", 0.0965, (("quantile", "0.95"),))
    out.sample("gen_ai_server_time_to_first_token_seconds", math.nan, (("quantile", "0.5"),))
    families = {f.name: f for f in text_string_to_metric_families(out.text())}
    assert families["hub_api_up"].type == "gauge"
    assert [(s.name, s.value) for s in families["hub_api_up"].samples] == [("hub_api_up", 1.0)]
    counter = families["hub_worker_events"]
    assert counter.type == "counter" and counter.documentation == "Events consumed"
    assert [(s.labels["worker"], s.value) for s in counter.samples] == [
        (awkward, 1234567.0),
        ("w-2", 3.0),
    ]
    ttft = families["gen_ai_server_time_to_first_token_seconds"].samples
    assert ttft[0].value == 0.0965 and math.isnan(ttft[1].value)


def test_a_family_without_samples_is_still_described() -> None:
    out = Exposition()
    out.family("hub_consumer_group_lag_messages", "gauge", "Messages not yet committed")
    text = out.text()
    assert "# TYPE hub_consumer_group_lag_messages gauge" in text
    assert [f.samples for f in text_string_to_metric_families(text)] == [[]]
