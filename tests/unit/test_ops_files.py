"""The container files and the configuration reference, checked without a Docker engine."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "ops" / "Dockerfile"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
CONFIG_PY = ROOT / "wamux" / "run" / "config.py"
VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def settings_variables() -> set[str]:
    """Every variable `load_settings` reads: the first argument of its `get(...)` / `integer(...)` calls."""
    tree = ast.parse(CONFIG_PY.read_text())
    load = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "load_settings")
    names = set()
    for node in ast.walk(load):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("get", "integer"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def documented_variables() -> dict[str, list[str]]:
    """Table rows of docs/configuration.md whose first cell is a `VARIABLE`: name -> the row's cells."""
    rows = {}
    for line in CONFIG_DOC.read_text().splitlines():
        m = re.match(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [cell.strip() for cell in m.group(2).split("|")]
    return rows


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    env = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            env.update(dict(re.findall(r"([A-Z][A-Z0-9_]*)=(\S+)", rest)))
    return env


# ---- configuration reference ----------------------------------------------------------------


def test_every_setting_is_documented_with_a_default_and_a_meaning() -> None:
    variables = settings_variables()
    assert {"JWT_SECRET", "DATABASE_URL", "PORT", "WHATSAPP_TRANSPORT", "METRICS_TOKEN"} <= variables
    assert len(variables) >= 20
    rows = documented_variables()
    missing = sorted(variables - set(rows))
    assert not missing, f"docs/configuration.md does not document {missing}"
    for name in variables:
        default, meaning = rows[name][0], rows[name][1]
        assert default and len(meaning) > 15, f"{name}: default {default!r}, meaning {meaning!r}"


def test_documented_variables_exist() -> None:
    stale = sorted(set(documented_variables()) - settings_variables())
    assert not stale, f"docs/configuration.md documents variables the server does not read: {stale}"


def test_documented_defaults_match_the_code() -> None:
    from wamux.run.config import load_settings

    defaults = load_settings({"WAMUX_DEV": "1"}, env_file=None)
    rows = documented_variables()
    for name, value in {
        "HOST": defaults.host,
        "PORT": defaults.port,
        "DATA_DIR": f"./{defaults.data_dir}",
        "DATABASE_PROVIDER": defaults.database_provider,
        "JWT_EXPIRATION": "24h",
        "ADMIN_EMAIL": defaults.admin_email,
        "WHATSAPP_TRANSPORT": defaults.transport,
        "LOG_LEVEL": defaults.log_level,
        "MAX_UPLOAD_MB": defaults.max_upload_mb,
        "MEDIA_MAX_MB": defaults.media_max_mb,
        "MEDIA_TIMEOUT_S": int(defaults.media_timeout_s),
        "BCRYPT_ROUNDS": defaults.bcrypt_rounds,
        "MAX_BODY_MB": defaults.max_body_mb,
        "QR_MAX_ATTEMPTS": defaults.qr_max_attempts,
        "RECONNECT_BACKOFF_MS": defaults.reconnect_backoff_ms,
        "SIMULATOR_QR_INTERVAL_MS": defaults.simulator_qr_interval_ms,
    }.items():
        assert rows[name][0] == f"`{value}`", f"{name}: documented {rows[name][0]}, code {value!r}"


# ---- docker-compose.yml -----------------------------------------------------------------------


def test_compose_has_wamux_and_a_mongodb_replica_set_of_one() -> None:
    doc = compose()
    services, volumes = doc["services"], doc["volumes"]
    assert {"wamux", "mongo"} <= set(services)
    mongo, wamux = services["mongo"], services["wamux"]
    assert mongo["image"].startswith("mongo:6")
    command = " ".join(mongo["command"]) if isinstance(mongo["command"], list) else mongo["command"]
    assert "--replSet rs0" in command
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate(" in check and "mongosh" in check
    assert wamux["build"]["dockerfile"] == "ops/Dockerfile" and (ROOT / wamux["build"]["context"]).is_dir()
    assert wamux["depends_on"]["mongo"]["condition"] == "service_healthy"
    env = wamux["environment"]
    assert env["DATABASE_PROVIDER"] == "mongodb"
    assert env["DATABASE_URL"].startswith("mongodb://mongo:27017/") and "replicaSet=rs0" in env["DATABASE_URL"]
    assert env["JWT_SECRET"] == "${JWT_SECRET:?set JWT_SECRET}"  # refuses to start the stack without one
    assert env["WAMUX_SECRET_KEY"] == "${WAMUX_SECRET_KEY:?set WAMUX_SECRET_KEY}"  # and without the at-rest key
    assert {"ADMIN_EMAIL", "ADMIN_PASSWORD", "ADMIN_FIRST_NAME", "ADMIN_LAST_NAME", "WHATSAPP_TRANSPORT"} <= set(env)
    # Named volumes only, each declared.
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source in volumes, f"volume {source} is not declared"
    assert {"wamux-data", "mongo-data"} <= set(volumes)
    assert any(m.endswith(":/data") for m in wamux["volumes"])


def test_every_variable_compose_names_is_documented() -> None:
    documented = set(documented_variables())
    text = COMPOSE.read_text()
    named = set(compose()["services"]["wamux"]["environment"]) | set(VAR.findall(text))
    assert not sorted(named - documented), f"undocumented in docs/configuration.md: {sorted(named - documented)}"


# ---- ops/Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user_with_a_health_check_and_a_data_volume() -> None:
    instructions = dockerfile_instructions()
    words = [w for w, _ in instructions]
    args = {w: rest for w, rest in instructions}  # the last of each
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert any("libmagic1" in rest for w, rest in instructions if w == "RUN")
    assert args["USER"] not in ("root", "0", "")
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")  # nothing runs as root after
    health = args["HEALTHCHECK"]
    assert "python" in health and "/api/health" in health and "curl" not in health
    assert "/data" in args["VOLUME"]
    assert args["EXPOSE"] == "3000"
    assert dockerfile_env()["DATA_DIR"] == "/data"
    assert dockerfile_env()["HOST"] == "0.0.0.0"
    assert dockerfile_env()["PORT"] == "3000"
    assert "wamux" in args["ENTRYPOINT"] and "serve" in args["CMD"]


def test_dockerfile_copies_what_exists_and_documents_its_variables() -> None:
    for word, rest in dockerfile_instructions():
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    runtime = {k for k in dockerfile_env() if not k.startswith(("PYTHON", "PIP_"))}
    assert not runtime - set(documented_variables())


@pytest.mark.parametrize("path", ["docs/openapi.yaml", "docker-compose.yml"])
def test_yaml_files_parse(path: str) -> None:
    assert yaml.safe_load((ROOT / path).read_text())


# ---- scripts/serve ------------------------------------------------------------------------------


def test_serve_script_writes_its_secrets_to_env_once(tmp_path: Path) -> None:
    """First start: a JWT_SECRET and a valid WAMUX_SECRET_KEY in .env; later starts keep them."""
    import base64
    import shutil
    import subprocess
    import sys

    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "serve", tmp_path / "scripts" / "serve")
    (tmp_path / "pyproject.toml").write_text("")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    # Stand-ins: the real interpreter (with eventsourcing), and a `wamux` that only says it was run.
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "wamux").write_text('#!/bin/sh\necho "served $*"\n')
    for tool in ("python", "wamux"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / ".venv" / ".installed").touch()
    env = {"PATH": "/usr/bin:/bin"}

    def serve() -> dict[str, str]:
        out = subprocess.run(["bash", "scripts/serve"], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert out.returncode == 0 and "served serve" in out.stdout, out.stderr
        return dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())

    first = serve()
    assert len(first["JWT_SECRET"]) >= 32
    assert len(base64.b64decode(first["WAMUX_SECRET_KEY"], validate=True)) == 32
    assert serve() == first
