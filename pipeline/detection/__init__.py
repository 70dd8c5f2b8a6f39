"""Anomaly detection on metric series (pure logic, no Kafka).

``series.SeriesDetector`` is the one streaming detector every series uses, offline
(``hub detect``, ``offline``) and in the worker; ``tail`` calibrates its statistics,
``predictors`` says what a value should be. ``metric_detection`` watches the hub's
window results (with ``distribution_shift`` and ``drift``) and publishes harmful
episodes (``harm``); ``stage`` is the keyed detection stage.

May import ``pipeline.wire``, ``pipeline.models``, ``pipeline.windows`` and
``pipeline.stages``; never ``agents``, Kafka or Redis.
"""
