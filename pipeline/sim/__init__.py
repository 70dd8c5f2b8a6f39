"""The simulator, labelled incident scenarios and their scoring: a development aid
and the evaluation's ground truth.

May import every other ``pipeline`` package; nothing imports it but ``agents`` and tests.
"""
