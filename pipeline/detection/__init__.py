"""Anomaly detection on metric series (pure logic, no Kafka).

``series.SeriesDetector`` is the one streaming detector every series uses, offline
(``hub detect``) and in the worker; ``tail`` calibrates its statistics, ``predictors``
says what a value should be. Imports only ``pipeline.models``.
"""
