"""Settings from the environment and `.env` (the environment wins), validated at start.

Every bad value is reported with the variable's name and what is expected; the server
refuses to start rather than run with a half-valid configuration.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from wamux.adapters.eventlog.secret_cipher import create_key, secret_key_problem
from wamux.run.providers import PROVIDERS, needs_url, url_fits, url_rule

DEFAULT_SECRETS = {"", "secret", "changeme", "change-me", "your-secret-key", "your_jwt_secret", "jwt_secret"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ConfigError(Exception):
    """One or more settings are invalid; the message lists each one."""


def parse_duration(text: str) -> int:
    """`24h`, `30m`, `3600` (seconds), `7d` -> seconds."""
    m = _DURATION.match(text or "")
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 24h, 30m, 7d or 3600")
    return int(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment."""

    host: str = "127.0.0.1"
    port: int = 3000
    data_dir: Path = Path("./data")
    database_provider: str = "sqlite"
    database_url: str | None = None
    sqlite_path: Path = Path("./data/whatsapp-api.db")
    jwt_secret: str = ""
    secret_key: str | None = None  # WAMUX_SECRET_KEY; None only in dev mode (a key kept in DATA_DIR)
    jwt_expiration_s: int = 86400
    admin_email: str = "admin@example.com"
    admin_password: str | None = None
    admin_first_name: str = "Admin"
    admin_last_name: str = "User"
    transport: str = "neonize"
    whatsapp_sessions: str = "files"  # WHATSAPP_SESSIONS: files (DATA_DIR/instances) | database (PostgreSQL)
    log_level: str = "info"
    dev_mode: bool = False
    generated_secret: bool = False
    max_upload_mb: int = 16
    media_max_mb: int = 16
    media_timeout_s: float = 20.0
    allow_private_urls: bool = False  # ALLOW_PRIVATE_URLS (alias MEDIA_ALLOW_PRIVATE_URLS): §8 for everyone
    bcrypt_rounds: int = 12
    metrics_token: str | None = None
    max_body_mb: int = 32
    qr_max_attempts: int = 6
    reconnect_backoff_ms: int = 1000
    simulator_qr_interval_ms: int = 20000
    max_instances_per_user: int = 100
    trust_proxy: bool = False
    node_id: str = ""  # NODE_ID (default: the host name): this node in a cluster on PostgreSQL
    node_url: str | None = None  # NODE_URL: how the other nodes reach this one (default: http://HOST:PORT)
    cluster_secret: str | None = None  # CLUSTER_SECRET: authenticates node-to-node calls
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def readmodels_path(self) -> Path:
        return self.sqlite_path.with_name(self.sqlite_path.stem + ".readmodels.db")

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def provider_file(self) -> Path:
        """Where a live store switch records its choice, so a restart stays on the new store."""
        return self.data_dir / "store-provider.json"


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _sqlite_path(url: str, data_dir: Path) -> Path:
    value = url.strip()
    if value.startswith("file:"):
        value = value[5:]
    elif value.startswith("sqlite:///"):
        value = value[10:]
    return Path(value) if value else data_dir / "whatsapp-api.db"


def load_settings(env: Mapping[str, str] | None = None, *, env_file: str | None = ".env") -> Settings:
    """Read and validate settings; raises ConfigError naming every bad variable."""
    merged: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if env is None else env)
    errors: list[str] = []

    def get(name: str, default: str = "") -> str:
        return merged.get(name, default).strip()

    def integer(name: str, default: int, low: int, high: int) -> int:
        raw = get(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            errors.append(f"{name}={raw!r}: expected a whole number")
            return default
        if not low <= value <= high:
            errors.append(f"{name}={value}: expected {low}..{high}")
        return value

    dev = _bool(get("WAMUX_DEV", "0"))
    data_dir = Path(get("DATA_DIR", "./data") or "./data")
    provider = get("DATABASE_PROVIDER", "sqlite").lower() or "sqlite"
    if provider == "postgresql":
        provider = "postgres"
    if provider not in PROVIDERS:
        errors.append(f"DATABASE_PROVIDER={provider!r}: expected {', '.join(PROVIDERS[:-1])} or {PROVIDERS[-1]}")
    database_url = get("DATABASE_URL") or None
    if provider in PROVIDERS and needs_url(provider) and not (database_url and url_fits(provider, database_url)):
        errors.append(f"DATABASE_URL: {url_rule(provider)} is required when DATABASE_PROVIDER={provider}")
    sqlite_url = get("SQLITE_DATABASE_URL")
    sqlite_path = _sqlite_path(sqlite_url, data_dir) if sqlite_url else data_dir / "whatsapp-api.db"

    secret = get("JWT_SECRET")
    generated = False
    if secret.lower() in DEFAULT_SECRETS or len(secret) < 16:
        if dev:
            secret = secret if len(secret) >= 16 else secrets.token_urlsafe(32)
            generated = True
        else:
            errors.append(
                "JWT_SECRET: set a random secret of at least 16 characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), "
                "or WAMUX_DEV=1 for a generated one in development"
            )
    secret_key = get("WAMUX_SECRET_KEY") or None
    if secret_key is None:
        problem = None if dev else "required (or WAMUX_DEV=1 for a development key kept in DATA_DIR)"
    else:
        problem = secret_key_problem(secret_key)
    if problem:
        errors.append(
            f"WAMUX_SECRET_KEY: {problem}; it encrypts webhook secrets in the event log. Generate one: "
            "`python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'`"
        )
    try:
        expiration = parse_duration(get("JWT_EXPIRATION", "24h"))
    except ValueError as exc:
        errors.append(f"JWT_EXPIRATION: {exc}")
        expiration = 86400

    transport = get("WHATSAPP_TRANSPORT", "neonize").lower() or "neonize"
    if transport not in ("neonize", "simulator"):
        errors.append(f"WHATSAPP_TRANSPORT={transport!r}: expected neonize or simulator")
    sessions = get("WHATSAPP_SESSIONS", "files").lower() or "files"
    if sessions not in ("files", "database"):
        errors.append(f"WHATSAPP_SESSIONS={sessions!r}: expected files or database")
    elif sessions == "database" and provider != "postgres":
        errors.append("WHATSAPP_SESSIONS=database: the device sessions go in PostgreSQL (DATABASE_PROVIDER=postgres)")
    level = get("LOG_LEVEL", "info").lower() or "info"
    if level not in ("debug", "info", "warning", "error"):
        errors.append(f"LOG_LEVEL={level!r}: expected debug, info, warning or error")
    admin_email = get("ADMIN_EMAIL", "admin@example.com")
    if "@" not in admin_email:
        errors.append(f"ADMIN_EMAIL={admin_email!r}: expected an email address")
    admin_password = get("ADMIN_PASSWORD") or None
    if admin_password is not None and len(admin_password) < 6:
        errors.append("ADMIN_PASSWORD: at least 6 characters")

    host_name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip("-._")[:64] or "wamux"
    node_id = get("NODE_ID") or host_name
    if not _NODE_ID.match(node_id):
        errors.append(f"NODE_ID={node_id!r}: 1-64 letters, digits, '.', '_' or '-'")
    node_url = get("NODE_URL").rstrip("/") or None
    if node_url is not None and not re.match(r"^https?://[^/\s]+$", node_url):
        errors.append(f"NODE_URL={node_url!r}: expected http(s)://host:port, no path")
    cluster_secret = get("CLUSTER_SECRET") or None
    if cluster_secret is not None and len(cluster_secret) < 16:
        errors.append("CLUSTER_SECRET: at least 16 characters (every node of a cluster sets the same)")

    settings = Settings(
        host=get("HOST", "127.0.0.1") or "127.0.0.1",
        port=integer("PORT", 3000, 0, 65535),
        data_dir=data_dir,
        database_provider=provider,
        database_url=database_url,
        sqlite_path=sqlite_path,
        jwt_secret=secret,
        secret_key=secret_key,
        jwt_expiration_s=expiration,
        admin_email=admin_email,
        admin_password=admin_password,
        admin_first_name=get("ADMIN_FIRST_NAME", "Admin") or "Admin",
        admin_last_name=get("ADMIN_LAST_NAME", "User") or "User",
        transport=transport,
        whatsapp_sessions=sessions,
        log_level=level,
        dev_mode=dev,
        generated_secret=generated,
        max_upload_mb=integer("MAX_UPLOAD_MB", 16, 1, 2048),
        media_max_mb=integer("MEDIA_MAX_MB", 16, 1, 2048),
        media_timeout_s=float(integer("MEDIA_TIMEOUT_S", 20, 1, 600)),
        allow_private_urls=_bool(get("ALLOW_PRIVATE_URLS", get("MEDIA_ALLOW_PRIVATE_URLS", "0"))),
        bcrypt_rounds=integer("BCRYPT_ROUNDS", 12, 4, 16),
        metrics_token=get("METRICS_TOKEN") or None,
        max_body_mb=integer("MAX_BODY_MB", 32, 1, 4096),
        qr_max_attempts=integer("QR_MAX_ATTEMPTS", 6, 1, 100),
        reconnect_backoff_ms=integer("RECONNECT_BACKOFF_MS", 1000, 10, 600_000),
        simulator_qr_interval_ms=integer("SIMULATOR_QR_INTERVAL_MS", 20000, 50, 600_000),
        max_instances_per_user=integer("MAX_INSTANCES_PER_USER", 100, 1, 1_000_000),
        trust_proxy=_bool(get("TRUST_PROXY", "0")),
        node_id=node_id,
        node_url=node_url,
        cluster_secret=cluster_secret,
    )
    if errors:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errors))
    return settings


DEV_KEY_FILE = "dev-secret.key"


def dev_key(data_dir: Path) -> str:
    """Dev mode without WAMUX_SECRET_KEY: the key in DATA_DIR/dev-secret.key, created on first use."""
    path = data_dir / DEV_KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written aside then linked into place: two processes starting at once keep one whole key.
    tmp = path.with_name(f".{DEV_KEY_FILE}.{os.getpid()}")
    tmp.write_text(create_key() + "\n")
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def settings_key(settings: Settings) -> str:
    """The key in force: WAMUX_SECRET_KEY, or the dev-mode key of DATA_DIR."""
    if settings.secret_key:
        return settings.secret_key
    if not settings.dev_mode:  # load_settings refuses this; a hand-made Settings must say
        raise ConfigError("WAMUX_SECRET_KEY is required outside dev mode")
    return dev_key(settings.data_dir)
