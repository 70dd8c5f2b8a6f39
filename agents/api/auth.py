"""API keys with roles, and a token-bucket rate limit per key.

Keys come from ``HUB_API_KEYS`` (``key:role+role[:rate[/burst]],...``) and/or the YAML
file ``HUB_API_KEYS_FILE`` (plain ``key`` or its ``key_sha256``, so the file need not
hold secrets). Only SHA-256 digests are kept in memory; a key is known by its id
(the first 12 hex digits of the digest) in logs and responses, never by itself.
Roles: ``read`` (queries, anomalies, correlations, streams, /metrics), ``ingest``
(POST events) and ``admin`` (everything, and the key listing).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

MIN_KEY_LENGTH = 16
DEFAULT_RATE_PER_S = 20.0
DEFAULT_BURST = 40


class Role(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    READ = "read"
    INGEST = "ingest"
    ADMIN = "admin"


class KeyConfigError(ValueError):
    """A mistake in the key configuration; the message names the entry and the fix."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    sha256: str
    roles: frozenset[Role]
    rate_per_s: float
    burst: int
    name: str = ""

    def allows(self, role: Role) -> bool:
        return Role.ADMIN in self.roles or role in self.roles


def _roles(text: Iterable[str], where: str) -> frozenset[Role]:
    roles = set()
    for raw in text:
        name = raw.strip().lower()
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            raise KeyConfigError(
                f"{where}: unknown role {raw!r}; roles are read, ingest and admin"
            ) from None
    if not roles:
        raise KeyConfigError(f"{where}: give at least one role (read, ingest, admin)")
    return frozenset(roles)


def _limit(text: str, where: str, default_rate: float, default_burst: int) -> tuple[float, int]:
    rate_text, _, burst_text = text.partition("/")
    try:
        rate = float(rate_text) if rate_text.strip() else default_rate
        burst = int(burst_text) if burst_text.strip() else max(default_burst, math.ceil(rate))
    except ValueError:
        raise KeyConfigError(
            f"{where}: rate limit {text!r} must be RATE or RATE/BURST, e.g. 10/20"
        ) from None
    if not (rate > 0 and math.isfinite(rate)) or burst < 1:
        raise KeyConfigError(f"{where}: rate must be > 0 per second and burst at least 1")
    return rate, burst


def _key(
    secret: str | None,
    sha256: str | None,
    roles: frozenset[Role],
    rate: float,
    burst: int,
    name: str,
    where: str,
) -> ApiKey:
    if secret is not None:
        if len(secret) < MIN_KEY_LENGTH:
            raise KeyConfigError(
                f"{where}: keys must have at least {MIN_KEY_LENGTH} characters; make one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        sha256 = digest(secret)
    if sha256 is None or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise KeyConfigError(f"{where}: key_sha256 must be 64 lowercase hex digits")
    return ApiKey(sha256[:12], sha256, roles, rate, burst, name)


def parse_keys_env(
    text: str, rate: float = DEFAULT_RATE_PER_S, burst: int = DEFAULT_BURST
) -> list[ApiKey]:
    """``key1:read,key2:ingest+read:5/10`` (roles joined by ``+``; optional RATE[/BURST])."""
    keys = []
    for number, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        where = f"HUB_API_KEYS entry {number}"
        parts = entry.split(":")
        if len(parts) not in (2, 3):
            raise KeyConfigError(
                f"{where}: expected KEY:ROLES or KEY:ROLES:RATE[/BURST], e.g. "
                "'<key>:ingest+read:10/20'"
            )
        key_rate, key_burst = (
            (rate, burst) if len(parts) == 2 else _limit(parts[2], where, rate, burst)
        )
        roles = _roles(parts[1].split("+"), where)
        keys.append(_key(parts[0].strip(), None, roles, key_rate, key_burst, "", where))
    return keys


def parse_keys_file(
    doc: Any, source: str, rate: float = DEFAULT_RATE_PER_S, burst: int = DEFAULT_BURST
) -> list[ApiKey]:
    """``keys: [{key | key_sha256, roles: [...], name?, rate_per_s?, burst?}, ...]``."""
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise KeyConfigError(f"{source}: expected a mapping with a 'keys' list")
    keys = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source} keys[{number - 1}]"
        if not isinstance(entry, dict):
            raise KeyConfigError(f"{where}: each key is a mapping (key, roles, ...)")
        secret, hashed = entry.get("key"), entry.get("key_sha256")
        if (secret is None) == (hashed is None):
            raise KeyConfigError(f"{where}: give exactly one of 'key' and 'key_sha256'")
        raw_roles = entry.get("roles")
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.replace("+", ",").split(",")
        if not isinstance(raw_roles, list):
            raise KeyConfigError(f"{where}: 'roles' must be a list such as [read, ingest]")
        limit = f"{entry.get('rate_per_s', '')}/{entry.get('burst', '')}"
        key_rate, key_burst = _limit(limit, where, rate, burst)
        keys.append(
            _key(
                None if secret is None else str(secret),
                None if hashed is None else str(hashed).lower(),
                _roles(map(str, raw_roles), where),
                key_rate,
                key_burst,
                str(entry.get("name", "")),
                where,
            )
        )
    return keys


def load_keys(environ: dict[str, str] | None = None) -> tuple[list[ApiKey], float, int]:
    """Every configured key, and the default rate and burst (``HUB_API_RATE_PER_S/BURST``)."""
    env = os.environ if environ is None else environ
    try:
        rate = float(env.get("HUB_API_RATE_PER_S") or DEFAULT_RATE_PER_S)
        burst = int(env.get("HUB_API_BURST") or DEFAULT_BURST)
    except ValueError:
        raise KeyConfigError(
            "HUB_API_RATE_PER_S must be a number and HUB_API_BURST an integer"
        ) from None
    if rate <= 0 or burst < 1:
        raise KeyConfigError("HUB_API_RATE_PER_S must be > 0 and HUB_API_BURST at least 1")
    keys = parse_keys_env(env.get("HUB_API_KEYS", ""), rate, burst)
    path = env.get("HUB_API_KEYS_FILE", "").strip()
    if path:
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeyConfigError(f"HUB_API_KEYS_FILE={path!r} cannot be read: {exc}") from None
        except yaml.YAMLError as exc:
            raise KeyConfigError(f"HUB_API_KEYS_FILE={path!r} is not valid YAML: {exc}") from None
        keys += parse_keys_file(doc, path, rate, burst)
    seen: set[str] = set()
    for key in keys:
        if key.sha256 in seen:
            raise KeyConfigError(f"key {key.key_id} is configured twice; keep one entry")
        seen.add(key.sha256)
    return keys, rate, burst


@dataclass(slots=True)
class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; one request takes one token."""

    rate: float
    burst: int
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float) -> float:
        """0.0 if a token was taken, else the seconds until one is available."""
        if self.tokens < 0:
            self.tokens, self.updated = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(slots=True)
class Authenticator:
    """Looks keys up by digest (constant-time compare) and keeps one bucket per key."""

    keys: list[ApiKey]
    open_access: bool = False
    """``--insecure-no-auth``: every caller has every role (loopback only, see cli)."""
    default_rate: float = DEFAULT_RATE_PER_S
    default_burst: int = DEFAULT_BURST
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def identify(self, presented: str | None) -> ApiKey | None:
        if not presented:
            return None
        wanted = digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.sha256, wanted):
                found = key
        return found

    def anonymous(self, client: str) -> ApiKey:
        """The caller in open-access mode: all roles, rate-limited per client address."""
        return ApiKey(
            f"anon:{client}",
            "",
            frozenset(Role),
            self.default_rate,
            self.default_burst,
            "anonymous",
        )

    def throttle(self, key: ApiKey) -> float:
        """0.0 when the request may go ahead, else seconds to wait (for ``Retry-After``)."""
        bucket = self._buckets.get(key.key_id)
        if bucket is None:
            bucket = self._buckets[key.key_id] = TokenBucket(key.rate_per_s, key.burst)
        return bucket.take(self.clock())


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None
