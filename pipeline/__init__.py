"""Pure logic of the hub: schemas, sketches, windows, detectors, correlation (no Kafka)."""
