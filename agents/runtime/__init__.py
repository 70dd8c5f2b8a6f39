"""What every hub process stands on: settings from the environment, Kafka clients and the
Faust app, the committed consumer and the keyed stateful stage, dead letters, topic
administration, the Redis store, health reports, process supervision.

May import ``pipeline``; never ``agents.streams``, ``agents.api``, ``agents.cli`` or
``agents.bench``.
"""
