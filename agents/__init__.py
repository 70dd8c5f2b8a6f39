"""Kafka wiring of the hub: the Faust app, its agents and the CLI (logic lives in pipeline/)."""
