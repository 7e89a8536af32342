"""Settings from explicit env dicts (no `.env`, no process environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wamux.run.config import ConfigError, load_settings, parse_duration

SECRET = "a-random-secret-of-32-characters!"
KEY = "X35VnPvbLRYLI+mONIGWd+h0ekV1H1e09MDl5vdhETU="


def load(**env: str):  # type: ignore[no-untyped-def]
    return load_settings({"JWT_SECRET": SECRET, "WAMUX_SECRET_KEY": KEY, **env}, env_file=None)


def refused(**env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(env, env_file=None)
    return str(info.value)


def test_defaults() -> None:
    s = load()
    assert (s.host, s.port, s.database_provider, s.transport, s.log_level) == (
        "127.0.0.1",
        3000,
        "sqlite",
        "neonize",
        "info",
    )
    assert s.jwt_secret == SECRET and s.generated_secret is False and s.dev_mode is False
    assert s.jwt_expiration_s == 24 * 3600
    assert s.sqlite_path == Path("data/whatsapp-api.db")
    assert s.qr_max_attempts == 6


def test_does_not_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    monkeypatch.setenv("JWT_SECRET", "")
    assert load().port == 3000


@pytest.mark.parametrize("secret", ["", "   ", "secret", "changeme", "your-secret-key", "short-15-chars!"])
def test_refuses_an_empty_default_or_short_secret_outside_dev(secret: str) -> None:
    message = refused(JWT_SECRET=secret)
    assert "JWT_SECRET" in message
    assert SECRET not in message


def test_refuses_a_missing_secret() -> None:
    assert "JWT_SECRET" in refused()


@pytest.mark.parametrize("dev", ["1", "true", "yes", "on", "TRUE"])
def test_dev_mode_generates_a_secret(dev: str) -> None:
    a = load_settings({"WAMUX_DEV": dev}, env_file=None)
    b = load_settings({"WAMUX_DEV": dev, "JWT_SECRET": "changeme"}, env_file=None)
    for s in (a, b):
        assert s.dev_mode is True and s.generated_secret is True
        assert len(s.jwt_secret) >= 32 and s.jwt_secret != "changeme"
    assert a.jwt_secret != b.jwt_secret  # random each start


def test_dev_mode_keeps_a_real_secret() -> None:
    s = load_settings({"WAMUX_DEV": "1", "JWT_SECRET": SECRET}, env_file=None)
    assert s.jwt_secret == SECRET and s.generated_secret is False


@pytest.mark.parametrize("dev", ["0", "false", "no", ""])
def test_dev_mode_off_values(dev: str) -> None:
    assert "JWT_SECRET" in refused(WAMUX_DEV=dev)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86_400), ("30m", 1_800), ("3600", 3_600), ("45s", 45), ("7d", 604_800), (" 2h ", 7_200)],
)
def test_jwt_expiration(text: str, seconds: int) -> None:
    assert load(JWT_EXPIRATION=text).jwt_expiration_s == seconds
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["bad", "", "0", "-5", "24 hours", "1.5h", "h", "10w"])
def test_bad_jwt_expiration(text: str) -> None:
    message = refused(JWT_SECRET=SECRET, JWT_EXPIRATION=text)
    assert "JWT_EXPIRATION" in message


@pytest.mark.parametrize("port", ["abc", "-1", "65536", "80.5"])
def test_bad_port(port: str) -> None:
    message = refused(JWT_SECRET=SECRET, PORT=port)
    assert "PORT" in message and port in message


def test_port_bounds_and_host() -> None:
    assert load(PORT="0").port == 0
    assert load(PORT="65535").port == 65535
    assert load(HOST="0.0.0.0").host == "0.0.0.0"


def test_bad_provider() -> None:
    message = refused(JWT_SECRET=SECRET, DATABASE_PROVIDER="postgres")
    assert "DATABASE_PROVIDER" in message and "postgres" in message


@pytest.mark.parametrize("url", ["", "postgres://h/db", "localhost:27017"])
def test_mongodb_needs_a_mongodb_url(url: str) -> None:
    message = refused(JWT_SECRET=SECRET, DATABASE_PROVIDER="mongodb", DATABASE_URL=url)
    assert "DATABASE_URL" in message


def test_mongodb_with_url() -> None:
    s = load(DATABASE_PROVIDER="MongoDB", DATABASE_URL="mongodb://u:p@localhost:27017/wamux")
    assert s.database_provider == "mongodb" and s.database_url == "mongodb://u:p@localhost:27017/wamux"
    s = load(DATABASE_PROVIDER="mongodb", DATABASE_URL="mongodb+srv://cluster.example.com/wamux")
    assert s.database_url is not None and s.database_url.startswith("mongodb+srv://")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WHATSAPP_TRANSPORT", "carrier-pigeon"),
        ("LOG_LEVEL", "verbose"),
        ("ADMIN_EMAIL", "not-an-email"),
        ("ADMIN_PASSWORD", "123"),
        ("QR_MAX_ATTEMPTS", "0"),
        ("RECONNECT_BACKOFF_MS", "fast"),
        ("SIMULATOR_QR_INTERVAL_MS", "1"),
        ("BCRYPT_ROUNDS", "99"),
        ("MAX_BODY_MB", "0"),
        ("MAX_INSTANCES_PER_USER", "0"),
        ("MAX_INSTANCES_PER_USER", "many"),
    ],
)
def test_every_error_names_its_variable(name: str, value: str) -> None:
    assert name in refused(JWT_SECRET=SECRET, **{name: value})


def test_all_errors_are_reported_at_once() -> None:
    message = refused(PORT="x", DATABASE_PROVIDER="oracle", JWT_EXPIRATION="soon", LOG_LEVEL="loud")
    for name in ("PORT", "DATABASE_PROVIDER", "JWT_EXPIRATION", "JWT_SECRET", "LOG_LEVEL"):
        assert name in message


def test_sqlite_url_forms() -> None:
    assert load(SQLITE_DATABASE_URL="file:./x/y.db").sqlite_path == Path("x/y.db")
    assert load(SQLITE_DATABASE_URL="sqlite:////abs/path.db").sqlite_path == Path("/abs/path.db")
    s = load(DATA_DIR="/srv/wamux")
    assert s.sqlite_path == Path("/srv/wamux/whatsapp-api.db")
    assert s.readmodels_path == Path("/srv/wamux/whatsapp-api.readmodels.db")


def test_simulator_knobs() -> None:
    s = load(WHATSAPP_TRANSPORT="Simulator", QR_MAX_ATTEMPTS="3", SIMULATOR_QR_INTERVAL_MS="200")
    assert (s.transport, s.qr_max_attempts, s.simulator_qr_interval_ms) == ("simulator", 3, 200)


def test_access_knobs() -> None:
    """The instance quota and proxy trust (API-2 §8): safe defaults, explicit overrides."""
    s = load()
    assert (s.max_instances_per_user, s.trust_proxy) == (100, False)
    s = load(MAX_INSTANCES_PER_USER="3", TRUST_PROXY="1")
    assert (s.max_instances_per_user, s.trust_proxy) == (3, True)


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"JWT_SECRET={SECRET}\nWAMUX_SECRET_KEY={KEY}\nPORT=4000\nLOG_LEVEL=debug\n")
    s = load_settings({"PORT": "5000"}, env_file=str(env_file))
    assert (s.jwt_secret, s.port, s.log_level) == (SECRET, 5000, "debug")


# ---- WAMUX_SECRET_KEY (API-2 §8: secrets at rest) ----------------------------------------------


def test_secret_key_is_read() -> None:
    assert load().secret_key == KEY


def test_secret_key_is_required_outside_dev_mode() -> None:
    message = refused(JWT_SECRET=SECRET)
    assert "WAMUX_SECRET_KEY: required" in message and "JWT_SECRET" not in message


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ=", KEY[:-4]])
def test_secret_key_must_be_a_base64_aes_key(key: str) -> None:
    message = refused(JWT_SECRET=SECRET, WAMUX_SECRET_KEY=key)
    assert "WAMUX_SECRET_KEY" in message and key not in message


def test_dev_mode_leaves_the_key_to_data_dir() -> None:
    s = load_settings({"WAMUX_DEV": "1"}, env_file=None)
    assert s.secret_key is None  # resolved when the store opens: DATA_DIR/dev-secret.key
    assert load_settings({"WAMUX_DEV": "1", "WAMUX_SECRET_KEY": KEY}, env_file=None).secret_key == KEY


def test_allow_private_urls_and_its_old_name() -> None:
    assert load().allow_private_urls is False
    assert load(ALLOW_PRIVATE_URLS="1").allow_private_urls is True
    assert load(MEDIA_ALLOW_PRIVATE_URLS="1").allow_private_urls is True  # the old name stays an alias
    assert load(ALLOW_PRIVATE_URLS="0", MEDIA_ALLOW_PRIVATE_URLS="1").allow_private_urls is False  # the new name wins


def test_the_cluster_settings_default_to_a_node_named_after_the_host() -> None:
    import socket

    s = load()
    assert s.node_id and s.node_id[0].isalnum() and len(s.node_id) <= 64
    assert s.node_id.split("-")[0] in socket.gethostname() or s.node_id == "wamux"
    assert (s.node_url, s.cluster_secret) == (None, None)
    s = load(NODE_ID="node-a.eu_1", NODE_URL="http://10.0.0.5:3000/", CLUSTER_SECRET="s" * 16)
    assert (s.node_id, s.node_url, s.cluster_secret) == ("node-a.eu_1", "http://10.0.0.5:3000", "s" * 16)


def test_bad_cluster_settings_are_refused_by_name() -> None:
    text = refused(NODE_ID="a b", NODE_URL="ftp://x/y", CLUSTER_SECRET="short")
    assert "NODE_ID='a b'" in text and "NODE_URL='ftp://x/y'" in text and "CLUSTER_SECRET: at least 16" in text
    assert "DATABASE_URL: a postgresql:// URL is required" in refused(DATABASE_PROVIDER="postgres")
    assert "DATABASE_URL: a postgresql:// URL is required" in refused(
        DATABASE_PROVIDER="postgres", DATABASE_URL="mongodb://h/db"
    )
    assert load(DATABASE_PROVIDER="postgresql", DATABASE_URL="postgres://u@h/db").database_provider == "postgres"
    assert "expected sqlite, mongodb or postgres" in refused(DATABASE_PROVIDER="oracle")


def test_whatsapp_sessions_go_in_files_or_in_postgres() -> None:
    assert load().whatsapp_sessions == "files"
    pg = {"DATABASE_PROVIDER": "postgres", "DATABASE_URL": "postgresql://u@h/db"}
    assert load(WHATSAPP_SESSIONS="database", **pg).whatsapp_sessions == "database"
    assert "WHATSAPP_SESSIONS=database: the device sessions go in PostgreSQL" in refused(WHATSAPP_SESSIONS="database")
    assert "WHATSAPP_SESSIONS='cloud': expected files or database" in refused(WHATSAPP_SESSIONS="cloud")
