"""Runtime configuration from environment variables, with defaults for a laptop.

Every knob is an environment variable so the same worker runs against the local
scripts' broker and a secured production cluster without code changes. One typed
:class:`HubEnvironment` (pydantic-settings) reads them all: its field aliases are the
documented names (README "Configuration"); an empty variable means its default, and a
value of the wrong type stops the process with the variable's name and what to give.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubEnvironment(BaseSettings):
    """Every ``HUB_*`` variable the worker, sink, chains and API read (the API's own keys
    and limits are in agents/api)."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", validation_alias="HUB_KAFKA_BOOTSTRAP")
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="HUB_REDIS_URL")
    app_id: str = Field("llm-analytics-hub", validation_alias="HUB_APP_ID")
    data_dir: str = Field(
        default_factory=lambda: os.path.join(os.getcwd(), ".run", "worker"),
        validation_alias="HUB_DATA_DIR",
    )
    security_protocol: str = Field("PLAINTEXT", validation_alias="HUB_KAFKA_SECURITY_PROTOCOL")
    sasl_mechanism: str | None = Field(None, validation_alias="HUB_KAFKA_SASL_MECHANISM")
    sasl_username: str | None = Field(None, validation_alias="HUB_KAFKA_SASL_USERNAME")
    sasl_password: str | None = Field(None, validation_alias="HUB_KAFKA_SASL_PASSWORD")
    ssl_cafile: str | None = Field(None, validation_alias="HUB_KAFKA_SSL_CAFILE")
    ssl_certfile: str | None = Field(None, validation_alias="HUB_KAFKA_SSL_CERTFILE")
    ssl_keyfile: str | None = Field(None, validation_alias="HUB_KAFKA_SSL_KEYFILE")
    allowed_lateness_s: float = Field(2.0, validation_alias="HUB_ALLOWED_LATENESS_S")
    window_grace_s: float = Field(0.0, validation_alias="HUB_WINDOW_GRACE_S")
    heartbeat_interval_s: float = Field(0.25, validation_alias="HUB_HEARTBEAT_INTERVAL_S")
    max_message_bytes: int = Field(1_048_576, validation_alias="HUB_MAX_MESSAGE_BYTES")
    max_future_skew_s: float = Field(3600.0, validation_alias="HUB_MAX_FUTURE_SKEW_S")
    max_past_age_s: float = Field(400 * 86400.0, validation_alias="HUB_MAX_PAST_AGE_S")
    topic_prefix: str = Field("", validation_alias="HUB_TOPIC_PREFIX")
    max_tag_values: int = Field(1000, validation_alias="HUB_MAX_TAG_VALUES")
    windows: str = Field("1m,5m,15m,1h,6h,1d,1w,30d", validation_alias="HUB_WINDOWS")
    detect_windows: str = Field("1m,5m,1h", validation_alias="HUB_DETECT_WINDOWS")
    chain_settle_s: float = Field(30.0, validation_alias="HUB_CHAIN_SETTLE_S")
    chain_window_s: float = Field(900.0, validation_alias="HUB_CHAIN_WINDOW_S")
    chain_lateness_s: float = Field(60.0, validation_alias="HUB_CHAIN_LATENESS_S")
    rules_file: str = Field("", validation_alias="HUB_RULES_FILE")
    api_max_batch_bytes: int = Field(
        16 * 1024 * 1024, ge=1, validation_alias="HUB_API_MAX_BATCH_BYTES"
    )
    api_max_batch_items: int = Field(10_000, ge=1, validation_alias="HUB_API_MAX_BATCH_ITEMS")
    api_heartbeat_s: float = Field(15.0, gt=0, validation_alias="HUB_API_HEARTBEAT_S")


def read_environment() -> HubEnvironment:
    """The ``HUB_*`` variables; a wrong one stops the process with its name."""
    try:
        return HubEnvironment()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{name}={error.get('input')!r}: {error['msg']}")
        raise SystemExit("bad environment: " + "; ".join(problems)) from None


@dataclass(frozen=True)
class KafkaSecurity:
    """Client security passed through to aiokafka and Faust (PLAINTEXT by default)."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.protocol:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka producers, consumers and admin clients."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    redis_url: str
    app_id: str
    data_dir: str
    security: KafkaSecurity
    allowed_lateness_s: float
    window_grace_s: float
    heartbeat_interval_s: float
    max_message_bytes: int
    max_future_skew_s: float
    max_past_age_s: float
    topic_prefix: str
    max_tag_values: int
    windows: tuple[str, ...]
    detect_windows: tuple[str, ...]
    chain_settle_s: float = 30.0
    chain_window_s: float = 900.0
    chain_lateness_s: float = 60.0
    """Traced events older than their input partition's latest by more than this are late."""
    rules_file: str = ""

    @property
    def broker_url(self) -> str:
        return ",".join(f"kafka://{host}" for host in self.kafka_bootstrap.split(","))


def load_settings() -> Settings:
    """Read HUB_* variables; see README 'Configuration' for the table."""
    env = read_environment()
    security = KafkaSecurity(
        protocol=env.security_protocol.upper(),
        sasl_mechanism=env.sasl_mechanism,
        sasl_username=env.sasl_username,
        sasl_password=env.sasl_password,
        ssl_cafile=env.ssl_cafile,
        ssl_certfile=env.ssl_certfile,
        ssl_keyfile=env.ssl_keyfile,
    )
    return Settings(
        kafka_bootstrap=env.kafka_bootstrap,
        redis_url=env.redis_url,
        app_id=env.app_id,
        data_dir=env.data_dir,
        security=security,
        allowed_lateness_s=env.allowed_lateness_s,
        window_grace_s=env.window_grace_s,
        heartbeat_interval_s=env.heartbeat_interval_s,
        max_message_bytes=env.max_message_bytes,
        max_future_skew_s=env.max_future_skew_s,
        max_past_age_s=env.max_past_age_s,
        topic_prefix=env.topic_prefix,
        max_tag_values=env.max_tag_values,
        windows=tuple(w.strip() for w in env.windows.split(",")),
        detect_windows=tuple(w.strip() for w in env.detect_windows.split(",") if w.strip()),
        chain_settle_s=env.chain_settle_s,
        chain_window_s=env.chain_window_s,
        chain_lateness_s=env.chain_lateness_s,
        rules_file=env.rules_file,
    )
