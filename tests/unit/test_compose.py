"""docker-compose.yml and the script-started broker (scripts/kafka.sh) must agree.

Both run the same single-node KRaft Kafka and Redis; these tests keep the Docker route from
drifting away from scripts/kafka/server.properties and the ports the scripts default to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVER_PROPERTIES = ROOT / "scripts" / "kafka" / "server.properties"
KAFKA_SH = ROOT / "scripts" / "kafka.sh"
REDIS_SH = ROOT / "scripts" / "redis.sh"

# Keys whose values legitimately differ between a host process and a container: the compose
# broker binds 0.0.0.0 inside its container and adds a DOCKER listener for the compose network;
# kafka.sh rewrites log.dirs to an absolute path under .run/. They are checked separately below.
CONTAINER_SPECIFIC = {
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "log.dirs",
}


def load_properties(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {raw!r}"
        props[key.strip()] = value.strip()
    return props


def env_to_property(name: str) -> str:
    """apache/kafka image convention: KAFKA_FOO_BAR -> foo.bar (___ -> '-', __ -> '_')."""
    body = name.removeprefix("KAFKA_").lower()
    return body.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")


def parse_listeners(value: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for item in value.split(","):
        m = re.fullmatch(r"([A-Z_]+)://([^:]*):(\d+)", item.strip())
        assert m, f"unparseable listener {item!r}"
        out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


def script_default(script: Path, var: str) -> int:
    m = re.search(rf"^{var}=(\d+)$", script.read_text(), re.MULTILINE)
    assert m, f"{script.name} has no {var}=<port> line"
    return int(m.group(1))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def props() -> dict[str, str]:
    return load_properties(SERVER_PROPERTIES)


@pytest.fixture(scope="module")
def kafka_env(compose: dict) -> dict[str, str]:
    env = compose["services"]["kafka"]["environment"]
    assert isinstance(env, dict), "kafka environment must be a mapping"
    return {k: str(v) for k, v in env.items()}


@pytest.fixture(scope="module")
def compose_props(kafka_env: dict[str, str]) -> dict[str, str]:
    skip = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_JMX_OPTS"}
    return {
        env_to_property(k): v
        for k, v in kafka_env.items()
        if k.startswith("KAFKA_") and k not in skip
    }


def published(service: dict) -> list[tuple[str, int, int]]:
    out = []
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        assert len(parts) == 3, f"publish with an explicit host IP, got {spec!r}"
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def test_script_defaults_are_the_documented_ports() -> None:
    assert script_default(KAFKA_SH, "DEFAULT_PORT") == 9092
    assert script_default(KAFKA_SH, "DEFAULT_CONTROLLER_PORT") == 9093
    assert script_default(REDIS_SH, "DEFAULT_PORT") == 6379


def test_template_listens_on_loopback_at_the_script_default_ports(props: dict[str, str]) -> None:
    port = script_default(KAFKA_SH, "DEFAULT_PORT")
    controller = script_default(KAFKA_SH, "DEFAULT_CONTROLLER_PORT")
    assert parse_listeners(props["listeners"]) == {
        "PLAINTEXT": ("127.0.0.1", port),
        "CONTROLLER": ("127.0.0.1", controller),
    }
    assert parse_listeners(props["advertised.listeners"]) == {"PLAINTEXT": ("127.0.0.1", port)}
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{controller}"


def test_published_ports_equal_script_defaults(compose: dict) -> None:
    services = compose["services"]
    assert published(services["kafka"]) == [
        ("127.0.0.1", script_default(KAFKA_SH, "DEFAULT_PORT"), 9092)
    ]
    assert published(services["redis"]) == [
        ("127.0.0.1", script_default(REDIS_SH, "DEFAULT_PORT"), 6379)
    ]
    assert "ports" not in services["hub-worker"]


def test_kafka_image_is_the_script_version(compose: dict) -> None:
    image = compose["services"]["kafka"]["image"]
    assert image == "apache/kafka:3.9.1"
    versions = re.search(r'HUB_KAFKA_VERSION:-([0-9. ]+)"?\}', KAFKA_SH.read_text())
    assert versions, "kafka.sh must default HUB_KAFKA_VERSION"
    assert versions.group(1).split()[0] == image.split(":")[1]


def test_kraft_single_node(props: dict[str, str], compose_props: dict[str, str]) -> None:
    for p in (props, compose_props):
        assert p["process.roles"] == "broker,controller"
        assert p["node.id"] == "1"
        assert p["controller.listener.names"] == "CONTROLLER"
        assert p["controller.quorum.voters"] == "1@127.0.0.1:9093"
        assert "zookeeper.connect" not in p


def test_broker_tuning(props: dict[str, str], compose_props: dict[str, str]) -> None:
    for p in (props, compose_props):
        assert p["num.partitions"] == "4"
        assert p["auto.create.topics.enable"] == "true"
        assert p["offsets.topic.replication.factor"] == "1"
        assert p["transaction.state.log.replication.factor"] == "1"
        assert p["transaction.state.log.min.isr"] == "1"
        assert p["group.initial.rebalance.delay.ms"] == "0"
        assert (
            2 * 1024 * 1024 - 64 * 1024
            <= int(p["message.max.bytes"])
            <= 2 * 1024 * 1024 + 64 * 1024
        )


def test_every_broker_setting_is_identical(
    props: dict[str, str], compose_props: dict[str, str]
) -> None:
    shared_props = {k: v for k, v in props.items() if k not in CONTAINER_SPECIFIC}
    shared_compose = {k: v for k, v in compose_props.items() if k not in CONTAINER_SPECIFIC}
    assert shared_compose == shared_props


def test_compose_listeners(props: dict[str, str], compose_props: dict[str, str]) -> None:
    listeners = parse_listeners(compose_props["listeners"])
    advertised = parse_listeners(compose_props["advertised.listeners"])
    # Host clients see exactly what scripts/kafka.sh offers.
    assert listeners["PLAINTEXT"][1] == 9092
    assert advertised["PLAINTEXT"] == ("127.0.0.1", 9092)
    assert listeners["CONTROLLER"] == ("127.0.0.1", 9093)
    # Containers reach the broker on the internal listener the worker is pointed at.
    assert listeners["DOCKER"][1] == 19092
    assert advertised["DOCKER"] == ("kafka", 19092)
    assert "CONTROLLER" not in advertised
    # Same security protocols as the script's broker, plus the internal listener.
    script_map = dict(i.split(":") for i in props["listener.security.protocol.map"].split(","))
    compose_map = dict(
        i.split(":") for i in compose_props["listener.security.protocol.map"].split(",")
    )
    assert compose_map == {**script_map, "DOCKER": "PLAINTEXT"}


def test_worker_environment(compose: dict) -> None:
    worker = compose["services"]["hub-worker"]
    env = worker["environment"]
    assert env["HUB_KAFKA_BOOTSTRAP"] == "kafka:19092"
    assert env["HUB_REDIS_URL"] == "redis://redis:6379/0"
    assert worker["command"] == ["hub", "worker"]
    assert worker["build"]["context"] == "."
    assert set(worker["depends_on"]) == {"kafka", "redis", "hub-topics"}
    # The scripts honour the same variables for pointing at an external cluster.
    assert "HUB_KAFKA_BOOTSTRAP" in KAFKA_SH.read_text()
    assert "HUB_REDIS_URL" in REDIS_SH.read_text()


def test_worker_env_vars_are_read_by_the_app(compose: dict) -> None:
    settings = ROOT / "agents" / "runtime" / "settings.py"
    if not settings.exists():
        pytest.fail("agents/runtime/settings.py is missing; the worker reads its settings there")
    text = settings.read_text()
    for name in compose["services"]["hub-worker"]["environment"]:
        assert f'"{name}"' in text, (
            f"{name} is set for hub-worker but agents/runtime/settings.py never reads it"
        )


def test_dockerfile_builds_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"pip install (-e )?\.", dockerfile)
    assert 'CMD ["hub", "worker"]' in dockerfile


def test_compose_runs_the_whole_product_from_one_image(compose: dict) -> None:
    """docker compose up is the product: topics, worker, sink, chains and the API, each a
    `hub` command of the one image, pointed at the compose network's Kafka and Redis."""
    services = compose["services"]
    commands = {
        name: service["command"]
        for name, service in services.items()
        if service.get("image") == "llm-analytics-hub:dev"
    }
    assert {tuple(c[:2]) for c in commands.values()} == {
        ("hub", "topics"),
        ("hub", "worker"),
        ("hub", "sink"),
        ("hub", "chains"),
        ("hub", "api"),
    }
    for name in commands:
        env = services[name]["environment"]
        assert env["HUB_KAFKA_BOOTSTRAP"] == "kafka:19092", name
        assert env["HUB_REDIS_URL"] == "redis://redis:6379/0", name
        if name != "hub-topics":
            needs = services[name]["depends_on"]["hub-topics"]
            assert needs == {"condition": "service_completed_successfully"}, name
    api = services["hub-api"]
    assert api["ports"] == ["127.0.0.1:8080:8080"] and "--host" in api["command"]
    assert "HUB_API_KEYS" in api["environment"] and "healthcheck" in api
    assert "/ready" in " ".join(api["healthcheck"]["test"])
