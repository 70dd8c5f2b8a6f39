"""Wiring of the hub, around the pure logic of ``pipeline``: ``runtime`` (settings, clients,
stateful stages), ``streams`` (the processors), ``api`` (HTTP), ``cli`` (`hub`) and
``bench`` (measurements)."""
