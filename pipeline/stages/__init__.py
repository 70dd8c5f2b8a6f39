"""The plumbing of keyed stages, pure: event-time release across partitions,
offset-ordered admission, snapshots of a partition's state, progress marks, the
records between stages, and the stages wired in one process.

May import ``pipeline.wire``, ``pipeline.models``, ``pipeline.windows``,
``pipeline.detection`` and ``pipeline.correlation``.
"""
