"""Routes by concern: health, queries, anomalies and correlations, ingest, streams, metrics."""
