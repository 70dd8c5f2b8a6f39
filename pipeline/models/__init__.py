"""Pydantic models of SEED_DATA_MODELS.md in the exact JSON of WIRE_FORMAT.md."""
