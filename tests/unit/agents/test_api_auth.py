"""agents/api/auth.py and the start-up rule of agents/api/app.py: keys, roles, buckets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from agents.api.app import AuthConfigError, build_auth
from agents.api.auth import (
    Authenticator,
    KeyConfigError,
    Role,
    TokenBucket,
    load_keys,
    parse_keys_env,
    parse_keys_file,
    presented_key,
)

READ_KEY = "r" * 20
INGEST_KEY = "i" * 24


def test_env_keys_with_roles_and_limits() -> None:
    keys = parse_keys_env(f"{READ_KEY}:read, {INGEST_KEY}:ingest+read:5/10", rate=20, burst=40)
    assert [k.roles for k in keys] == [frozenset({Role.READ}), frozenset({Role.INGEST, Role.READ})]
    assert (keys[0].rate_per_s, keys[0].burst) == (20, 40)
    assert (keys[1].rate_per_s, keys[1].burst) == (5, 10)
    assert keys[0].sha256 == hashlib.sha256(READ_KEY.encode()).hexdigest()
    assert keys[0].key_id == keys[0].sha256[:12]
    assert READ_KEY not in repr(keys[0])  # only the digest is kept


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("short:read", "at least 16 characters"),
        (f"{READ_KEY}:reader", "unknown role 'reader'"),
        (f"{READ_KEY}", "KEY:ROLES"),
        (f"{READ_KEY}:read:fast", "RATE or RATE/BURST"),
        (f"{READ_KEY}:read:0", "rate must be > 0"),
    ],
)
def test_env_key_mistakes_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        parse_keys_env(text)


def test_file_keys_accept_digests(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"a-secret-from-a-vault-1234").hexdigest()
    doc = {
        "keys": [
            {"name": "dashboard", "key_sha256": digest, "roles": ["read"], "rate_per_s": 2},
            {"key": INGEST_KEY, "roles": "ingest+admin", "burst": 3},
        ]
    }
    keys = parse_keys_file(doc, "keys.yaml", rate=20, burst=40)
    assert keys[0].name == "dashboard" and keys[0].sha256 == digest
    assert (keys[0].rate_per_s, keys[0].burst) == (2.0, 40)
    assert keys[1].roles == frozenset({Role.INGEST, Role.ADMIN}) and keys[1].burst == 3
    with pytest.raises(KeyConfigError, match="exactly one of 'key' and 'key_sha256'"):
        parse_keys_file({"keys": [{"roles": ["read"]}]}, "keys.yaml")
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump(doc))
    loaded, rate, burst = load_keys(
        {
            "HUB_API_KEYS_FILE": str(path),
            "HUB_API_KEYS": READ_KEY + ":read",
            "HUB_API_RATE_PER_S": "7",
        }
    )
    assert len(loaded) == 3 and rate == 7.0 and burst == 40
    with pytest.raises(KeyConfigError, match="configured twice"):
        load_keys({"HUB_API_KEYS": f"{READ_KEY}:read,{READ_KEY}:ingest"})


def test_identify_roles_and_admin() -> None:
    keys = parse_keys_env(f"{READ_KEY}:read,{INGEST_KEY}:admin")
    auth = Authenticator(keys)
    reader, admin = auth.identify(READ_KEY), auth.identify(INGEST_KEY)
    assert reader is not None and admin is not None
    assert reader.allows(Role.READ) and not reader.allows(Role.INGEST)
    assert all(admin.allows(role) for role in Role)
    assert auth.identify("x" * 20) is None and auth.identify(None) is None


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # one token every 0.5 s
    assert bucket.take(100.25) == pytest.approx(0.25)
    assert bucket.take(100.5) == 0.0
    assert bucket.take(200.0) == 0.0  # refilled, but never above the burst
    assert [bucket.take(200.0) for _ in range(3)][-1] == pytest.approx(0.5)


def test_throttle_is_per_key() -> None:
    now = [0.0]
    keys = parse_keys_env(f"{READ_KEY}:read:1/2,{INGEST_KEY}:ingest:1/2")
    auth = Authenticator(keys, clock=lambda: now[0])
    assert [auth.throttle(keys[0]) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert auth.throttle(keys[1]) == 0.0
    now[0] = 1.0
    assert auth.throttle(keys[0]) == 0.0


def test_presented_key_headers() -> None:
    assert presented_key("Bearer abc", None) == "abc"
    assert presented_key("bearer  abc ", None) == "abc"
    assert presented_key("Basic abc", None) is None
    assert presented_key("Bearer abc", "xyz") == "xyz"


def test_no_keys_refuses_to_start_unless_insecure_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUB_API_KEYS", raising=False)
    monkeypatch.delenv("HUB_API_KEYS_FILE", raising=False)
    with pytest.raises(AuthConfigError, match="no API keys configured"):
        build_auth("127.0.0.1", insecure_no_auth=False)
    assert build_auth("127.0.0.1", insecure_no_auth=True).open_access
    assert build_auth("::1", insecure_no_auth=True).open_access
    with pytest.raises(AuthConfigError, match="loopback"):
        build_auth("0.0.0.0", insecure_no_auth=True)
    monkeypatch.setenv("HUB_API_KEYS", f"{READ_KEY}:read")
    with pytest.raises(AuthConfigError, match="exclude each other"):
        build_auth("127.0.0.1", insecure_no_auth=True)
    assert not build_auth("0.0.0.0", insecure_no_auth=False).open_access
