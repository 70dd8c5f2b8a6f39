"""Runtime configuration from environment variables, with defaults for a laptop.

Every knob is an environment variable so the same worker runs against the
local scripts' broker and a secured production cluster without code changes.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number; unset it or give seconds") from None


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not an integer") from None


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
    security = KafkaSecurity(
        protocol=_env("HUB_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
        sasl_mechanism=os.environ.get("HUB_KAFKA_SASL_MECHANISM") or None,
        sasl_username=os.environ.get("HUB_KAFKA_SASL_USERNAME") or None,
        sasl_password=os.environ.get("HUB_KAFKA_SASL_PASSWORD") or None,
        ssl_cafile=os.environ.get("HUB_KAFKA_SSL_CAFILE") or None,
        ssl_certfile=os.environ.get("HUB_KAFKA_SSL_CERTFILE") or None,
        ssl_keyfile=os.environ.get("HUB_KAFKA_SSL_KEYFILE") or None,
    )
    return Settings(
        kafka_bootstrap=_env("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        redis_url=_env("HUB_REDIS_URL", "redis://127.0.0.1:6379/0"),
        app_id=_env("HUB_APP_ID", "llm-analytics-hub"),
        data_dir=_env("HUB_DATA_DIR", os.path.join(os.getcwd(), ".run", "worker")),
        security=security,
        allowed_lateness_s=_env_float("HUB_ALLOWED_LATENESS_S", 2.0),
        window_grace_s=_env_float("HUB_WINDOW_GRACE_S", 0.0),
        heartbeat_interval_s=_env_float("HUB_HEARTBEAT_INTERVAL_S", 0.25),
        max_message_bytes=_env_int("HUB_MAX_MESSAGE_BYTES", 1_048_576),
        max_future_skew_s=_env_float("HUB_MAX_FUTURE_SKEW_S", 3600.0),
        max_past_age_s=_env_float("HUB_MAX_PAST_AGE_S", 400 * 86400.0),
        topic_prefix=_env("HUB_TOPIC_PREFIX", ""),
        max_tag_values=_env_int("HUB_MAX_TAG_VALUES", 1000),
        windows=tuple(
            w.strip() for w in _env("HUB_WINDOWS", "1m,5m,15m,1h,6h,1d,1w,30d").split(",")
        ),
        detect_windows=tuple(
            w.strip() for w in _env("HUB_DETECT_WINDOWS", "1m,5m,1h").split(",") if w.strip()
        ),
        chain_settle_s=_env_float("HUB_CHAIN_SETTLE_S", 30.0),
        chain_window_s=_env_float("HUB_CHAIN_WINDOW_S", 900.0),
        chain_lateness_s=_env_float("HUB_CHAIN_LATENESS_S", 60.0),
        rules_file=os.environ.get("HUB_RULES_FILE", ""),
    )
