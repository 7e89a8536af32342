"""The `wamux` command as a user runs it: real subprocesses on a temporary DATA_DIR, exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.harness import JWT_SECRET, SECRET_KEY, Api, ServerProcess, free_port

# Variables of the outer environment that would change what the commands see.
OWN_VARIABLES = {
    "DATABASE_PROVIDER",
    "DATABASE_URL",
    "SQLITE_DATABASE_URL",
    "METRICS_TOKEN",
    "WAMUX_DEV",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "LOG_LEVEL",
    "PORT",
    "HOST",
}
COMMANDS = [
    [],
    ["serve"],
    ["rebuild"],
    ["replay"],
    ["user"],
    ["user", "list"],
    ["user", "add"],
    ["user", "reset-password"],
    ["instance"],
    ["instance", "list"],
    ["events"],
    ["events", "export"],
    ["db"],
    ["db", "status"],
    ["db", "switch"],
    ["doctor"],
]


def listed_commands(help_text: str) -> set[str]:
    """The subcommand names argparse lists under COMMAND in a `--help` text (one per line, indented 4)."""
    section = help_text.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
    return {line.split()[0] for line in section.splitlines() if line.startswith("    ") and line[4] != " "}


def command_env(data_dir: Path, drop: tuple[str, ...] = (), env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a command: the outer one without wamux's variables, the test settings, `env`."""
    full = {k: v for k, v in os.environ.items() if k not in OWN_VARIABLES}
    full.update(
        DATA_DIR=str(data_dir),
        JWT_SECRET=JWT_SECRET,
        WAMUX_SECRET_KEY=SECRET_KEY,
        WHATSAPP_TRANSPORT="simulator",
        BCRYPT_ROUNDS="4",
    )
    full.update(env or {})
    for name in drop:
        full.pop(name, None)
    return full


def python(
    data_dir: Path, *args: str, drop: tuple[str, ...] = (), stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` with DATA_DIR=data_dir and the test settings, run from a folder without a .env.

    stdin is a pipe holding `stdin` (never the terminal pytest runs on: a command would prompt there).
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, *args],
        env=command_env(data_dir, drop, env),
        cwd=data_dir.parent,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wamux(
    data_dir: Path, *args: str, drop: tuple[str, ...] = (), stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m wamux.run.cli ARGS` with DATA_DIR=data_dir, run from a folder without a .env."""
    return python(data_dir, "-m", "wamux.run.cli", *args, drop=drop, stdin=stdin, env=env)


def add_user(data_dir: Path, email: str, password: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`wamux user add EMAIL ARGS` with the password piped on stdin, as a script would."""
    return python(data_dir, "-m", "wamux.run.cli", "user", "add", email, *args, stdin=f"{password}\n", env=env)


def doctor(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`wamux doctor` with PORT set to a port free now (3000 may be taken on a shared machine)."""
    return python(data_dir, "-m", "wamux.run.cli", "doctor", env={"PORT": str(free_port()), **env})


def doctor_line(out: subprocess.CompletedProcess[str], check: str) -> str:
    """The first line of one check's row in the doctor's table."""
    return next(line for line in out.stdout.splitlines() if line.startswith(f"│ {check} "))


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in COMMANDS:
        out = wamux(tmp_path / "data", *command, "--help")
        assert out.returncode == 0, (command, out.stderr)
        assert out.stdout.startswith("usage: wamux"), (command, out.stdout)
        # Each group lists exactly the subcommands above: a command added, dropped or renamed shows here.
        children = {c[len(command)] for c in COMMANDS if len(c) == len(command) + 1 and c[: len(command)] == command}
        if children:
            assert listed_commands(out.stdout) == children, (command, out.stdout)


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    for args in (
        ["bogus"],
        ["db"],
        ["user", "add", "x@example.com", "--password", "a", "--password-file", "b"],
        ["replay", "users"],
        ["replay", "users", "--from", "x"],
    ):
        out = wamux(tmp_path / "data", *args)
        assert out.returncode == 2, (args, out.stderr)
        assert "usage: wamux" in out.stderr


def test_missing_jwt_secret_is_a_configuration_error(tmp_path: Path) -> None:
    out = wamux(tmp_path / "data", "user", "list", drop=("JWT_SECRET",))
    assert out.returncode == 2
    assert "JWT_SECRET" in out.stderr and "Traceback" not in out.stderr
    out = wamux(tmp_path / "data", "doctor", drop=("JWT_SECRET",))
    assert out.returncode == 2 and "JWT_SECRET" in out.stdout and "FAIL" in out.stdout


def test_user_add_list_and_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = add_user(data, "not-an-email", "password-1")
    assert out.returncode == 1 and "email is not a valid address" in out.stderr and "Traceback" not in out.stderr
    out = add_user(data, "Carol@Example.com", "password-1", "--first-name", "Carol", "--role", "admin")
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr  # piped on stdin: nothing to warn about
    created = json.loads(out.stdout)
    assert created["email"] == "carol@example.com" and created["role"] == "admin" and created["apiKey"]
    out = add_user(data, "carol@example.com", "password-2")
    assert out.returncode == 1 and "Traceback" not in out.stderr and out.stderr.startswith("wamux: ")
    out = wamux(data, "user", "add", "nopass@example.com")  # stdin is empty, not a terminal: no prompt
    assert out.returncode == 2 and "no password on stdin" in out.stderr
    out = wamux(data, "user", "list")
    assert out.returncode == 0, out.stderr
    assert [line.split()[:3] for line in out.stdout.splitlines()] == [[created["id"], "carol@example.com", "admin"]]


def on_a_terminal(data_dir: Path, *args: str, answers: tuple[str, ...]) -> tuple[int, str, str]:
    """Run `wamux ARGS` with a pseudo-terminal as stdin and stderr (its own session: never pytest's
    terminal), type each answer once its prompt shows; the exit code, stdout and what the terminal showed."""
    import pty
    import select

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wamux.run.cli", *args],
        env=command_env(data_dir),
        cwd=data_dir.parent,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    shown = b""
    try:
        for typed, answer in enumerate(answers):
            while shown.count(b": ") <= typed:  # each prompt ends with ": "
                ready, _, _ = select.select([master], [], [], 30)
                assert ready, f"no prompt: {shown!r}"
                shown += os.read(master, 1024)
            os.write(master, answer.encode() + b"\n")
        stdout, _ = proc.communicate(timeout=60)
        while select.select([master], [], [], 0.2)[0]:  # what it wrote after the last prompt
            try:
                chunk = os.read(master, 1024)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        proc.kill()
        os.close(master)
    return proc.returncode, stdout.decode(), shown.decode(errors="replace")


# Modules a user command must not load: the WhatsApp transports, the composition root, the web app.
SERVER_ONLY = ("neonize", "wamux.adapters.whatsapp", "wamux.run.bootstrap", "wamux.http", "quart", "hypercorn")
PROBE_USER_LIST = """
import json, sys
from wamux.run.cli import main
code = main(["user", "list"])
server_only = sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[1:])))
print(json.dumps({"code": code, "server_only": server_only}))
"""


def test_user_commands_open_only_the_event_log(tmp_path: Path) -> None:
    """With the neonize transport configured, `user add` and `user list` still load no transport, no
    composition root and no web app, and open no read model (the read-model file is never created)."""
    data = tmp_path / "data"
    out = add_user(data, "fay@example.com", "password-1", WHATSAPP_TRANSPORT="neonize")
    assert out.returncode == 0, out.stderr
    out = python(data, "-c", PROBE_USER_LIST, *SERVER_ONLY, env={"WHATSAPP_TRANSPORT": "neonize"})
    assert out.returncode == 0, out.stderr
    *listing, report = out.stdout.splitlines()
    assert json.loads(report) == {"code": 0, "server_only": []}
    assert [line.split()[1] for line in listing] == ["fay@example.com"]
    assert (data / "whatsapp-api.db").is_file()
    assert not (data / "whatsapp-api.readmodels.db").exists()
    # The probe can fail: the same check sees what the server's composition root loads.
    loaded = python(data, "-c", "import sys, wamux.run.bootstrap; print(sorted(sys.modules))")
    assert loaded.returncode == 0, loaded.stderr
    assert "wamux.http" in loaded.stdout and "wamux.run.bootstrap" in loaded.stdout


def test_password_prompt_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the password is asked twice, not echoed; two different answers change nothing."""
    data = tmp_path / "data"
    code, stdout, shown = on_a_terminal(data, "user", "add", "pat@example.com", answers=("secret-one", "secret-two"))
    assert code == 2 and "do not match" in shown and stdout == "", shown
    code, stdout, shown = on_a_terminal(data, "user", "add", "pat@example.com", answers=("secret-one",) * 2)
    assert code == 0, shown
    assert json.loads(stdout)["email"] == "pat@example.com"
    assert "Password: " in shown and "Repeat the password: " in shown and "secret-one" not in shown  # no echo


async def test_reset_password_then_login_and_replay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert add_user(data, "boss@example.com", "boss-password", "--role", "admin").returncode == 0
    out = wamux(data, "user", "add", "dave@example.com", "--password", "old-password")  # still works, warned
    assert out.returncode == 0 and "visible in `ps` and the shell history" in out.stderr, out.stderr
    out = wamux(data, "user", "reset-password", "nobody@example.com", stdin="new-password\n")
    assert out.returncode == 1 and "no user with email nobody@example.com" in out.stderr
    secret = tmp_path / "password.txt"
    secret.write_text("new-password\nnot this line\n")
    out = wamux(data, "user", "reset-password", "dave@example.com", "--password-file", str(secret))
    assert out.returncode == 0 and "password changed" in out.stdout, out.stderr
    assert "warning" not in out.stderr
    out = wamux(data, "replay", "users", "--from", "1")
    assert out.returncode == 0 and "replayed users from position 1" in out.stdout, out.stderr

    srv = ServerProcess(data).start()
    try:
        login = httpx.post(srv.url + "/api/auth/login", json={"email": "dave@example.com", "password": "new-password"})
        assert login.status_code == 200, login.text
        old = httpx.post(srv.url + "/api/auth/login", json={"email": "dave@example.com", "password": "old-password"})
        assert old.status_code == 401
        boss = httpx.post(srv.url + "/api/auth/login", json={"email": "boss@example.com", "password": "boss-password"})
        async with Api(srv.url, token=boss.json()["token"]) as admin:
            emails = {u["email"] for u in (await admin.get("/api/users")).json()["users"]}
        assert "dave@example.com" in emails  # the replayed read model
        # Read models must not change under a running server.
        out = wamux(data, "replay", "users", "--from", "1")
        assert out.returncode == 1 and "server is running" in out.stderr
        assert wamux(data, "rebuild", "users").returncode == 1
    finally:
        srv.stop()


async def test_events_export_and_instance_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = ServerProcess(data).start()
    try:
        async with Api(srv.url, token=srv.admin_token()) as admin:
            instance = await admin.create_instance("Exported")
            await admin.wait_qr(instance["id"])
            listed = (await admin.get(f"/api/instances/{instance['id']}/events", params={"limit": 100})).json()
    finally:
        srv.stop()

    out = wamux(data, "events", "export", "--instance", instance["id"])
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["type"] for r in records[:2]] == ["created", "qr_received"]
    assert [r["version"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["data"]["name"] == "Exported" and records[0]["timestamp"].endswith("Z")
    assert records[0]["data"]["instanceId"] == instance["id"] and "webhookEnabled" in records[0]["data"]
    assert not [k for r in records for k in r["data"] if "_" in k]  # camelCase, as the API
    assert f"exported {len(records)} events" in out.stderr
    # The events the API lists are exported exactly as it shows them.
    by_id = {r["id"]: r for r in records}
    assert listed["events"]
    for event in listed["events"]:
        assert {k: by_id[event["id"]][k] for k in event} == event
    # --since is exclusive, as the API's `since` (timestamps increase strictly within a stream).
    since = wamux(data, "events", "export", "--instance", instance["id"], "--since", records[0]["timestamp"])
    assert since.returncode == 0 and [json.loads(line) for line in since.stdout.splitlines()] == records[1:]
    later = wamux(data, "events", "export", "--instance", instance["id"], "--since", records[-1]["timestamp"])
    assert later.returncode == 0 and later.stdout == ""

    out = wamux(data, "events", "export", "--instance", "not-a-uuid")
    assert out.returncode == 2 and "not an instance id" in out.stderr
    unknown = "6b1f7a9e-1111-4222-8333-944445555666"
    out = wamux(data, "events", "export", "--instance", unknown)
    assert out.returncode == 1 and f"no instance {unknown}" in out.stderr and out.stdout == ""
    out = wamux(data, "events", "export", "--instance", instance["id"], "--since", "yesterday")
    assert out.returncode == 2 and "ISO 8601" in out.stderr

    out = wamux(data, "instance", "list")
    assert out.returncode == 0, out.stderr
    assert instance["id"] in out.stdout and "Exported" in out.stdout


def test_rebuild_and_replay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert add_user(data, "erin@example.com", "password-1").returncode == 0
    out = wamux(data, "rebuild", "bogus")
    assert out.returncode == 2 and "unknown projection bogus" in out.stderr and "users" in out.stderr
    out = wamux(data, "rebuild")
    assert out.returncode == 0, out.stderr
    names = "users, instances, messages, contacts, groups, identities, stats, outbox"
    assert f"rebuilt {names}" in out.stdout
    for command in ("rebuild", "replay"):  # both helps list what `rebuild` builds
        assert f"Projections: {names}." in wamux(data, command, "--help").stdout
    out = wamux(data, "replay", "users", "--from", "1")
    assert out.returncode == 0 and "1 events applied, now at 1" in out.stdout, out.stderr
    out = wamux(data, "replay", "bogus", "--from", "1")
    assert out.returncode == 2 and "unknown projection bogus" in out.stderr
    out = wamux(data, "replay", "users", "--from", "0")
    assert out.returncode == 2 and "positions start at 1" in out.stderr
    out = wamux(data, "replay", "users", "--from", "50")
    assert out.returncode == 2 and "ends at position 1" in out.stderr


def test_db_status_masks_passwords(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = wamux(data, "db", "status")
    assert out.returncode == 0, out.stderr
    assert "provider  sqlite" in out.stdout and str(data / "whatsapp-api.db") in out.stdout
    url = "mongodb://alice:s3cret@127.0.0.1:1/wamux?authSource=admin"
    out = wamux(data, "db", "status", "--json", DATABASE_PROVIDER="mongodb", DATABASE_URL=url)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["provider"] == "mongodb" and status["url"].startswith("mongodb://alice:***@127.0.0.1:1/wamux")
    assert "s3cret" not in out.stdout


def test_doctor(tmp_path: Path) -> None:
    out = doctor(tmp_path / "fresh")
    assert out.returncode == 0, out.stdout + out.stderr
    for check in ("configuration", "port", "disk space", "event store", "neonize", "Pillow"):
        assert "OK" in doctor_line(out, check), out.stdout
    assert "head position 0" in out.stdout
    assert "DATABASE_PROVIDER not set (default sqlite)" in doctor_line(out, "configuration")
    assert " free" in doctor_line(out, "port")


def test_doctor_fails_on_a_taken_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = doctor(tmp_path / "data", HOST="127.0.0.1", PORT=str(port), DATABASE_PROVIDER="sqlite")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL" in doctor_line(out, "port") and f"port {port} on 127.0.0.1 in use" in doctor_line(out, "port")
    assert "from the environment (DATABASE_PROVIDER)" in doctor_line(out, "configuration")


def test_db_switch_moves_the_log_and_read_models(tmp_path: Path, mongo_db_url: str) -> None:
    data = tmp_path / "data"
    out = add_user(data, "gus@example.com", "password-1")
    assert out.returncode == 0, out.stderr
    gus = json.loads(out.stdout)["id"]
    out = wamux(data, "db", "switch", "--to", "mongodb", "--url", mongo_db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["provider"] == "mongodb"
    status = json.loads(wamux(data, "db", "status", "--json").stdout)
    assert status["provider"] == "mongodb" and "switch" in status["source"]
    # Read from the new store: the user is there, and so is its read model.
    out = wamux(data, "user", "list")
    assert out.returncode == 0 and out.stdout.split()[:2] == [gus, "gus@example.com"], out.stderr
    out = wamux(data, "replay", "users", "--from", "1")
    assert out.returncode == 0 and "1 events applied, now at 1" in out.stdout, out.stderr
    out = wamux(data, "db", "switch", "--to", "mongodb", "--url", mongo_db_url)
    assert out.returncode == 1 and "wamux: already on mongodb" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.postgres
def test_db_switch_to_postgres_and_back_to_sqlite(tmp_path: Path, postgres_db_url: str) -> None:
    data = tmp_path / "data"
    out = add_user(data, "pia@example.com", "password-1")
    assert out.returncode == 0, out.stderr
    pia = json.loads(out.stdout)["id"]
    out = wamux(data, "db", "switch", "--to", "postgres", "--url", postgres_db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    status = json.loads(wamux(data, "db", "status", "--json").stdout)
    assert status["provider"] == "postgres" and status["url"] == postgres_db_url and "switch" in status["source"]
    out = wamux(data, "user", "list")
    assert out.returncode == 0 and out.stdout.split()[:2] == [pia, "pia@example.com"], out.stderr
    out = add_user(data, "quinn@example.com", "password-1")  # written to PostgreSQL
    assert out.returncode == 0, out.stderr
    out = wamux(data, "db", "switch", "--to", "sqlite")
    assert out.returncode == 0, out.stdout + out.stderr
    out = wamux(data, "user", "list")
    assert out.returncode == 0 and "pia@example.com" in out.stdout and "quinn@example.com" in out.stdout, out.stderr


@pytest.mark.postgres
def test_doctor_on_postgres(tmp_path: Path, postgres_db_url: str) -> None:
    out = doctor(tmp_path / "data", DATABASE_PROVIDER="postgres", DATABASE_URL=postgres_db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PostgreSQL 1" in doctor_line(out, "postgres") and "OK" in doctor_line(out, "postgres")
    assert "OK" in doctor_line(out, "event store") and "skip" in doctor_line(out, "mongod").lower()
    dead = "postgresql://bob:hunter22@127.0.0.1:1/wamux"
    out = doctor(tmp_path / "data2", DATABASE_PROVIDER="postgres", DATABASE_URL=dead)
    assert out.returncode == 1 and "FAIL" in doctor_line(out, "postgres"), out.stdout
    assert "cannot reach PostgreSQL at postgresql://bob:***@127.0.0.1:1/wamux" in out.stdout
    assert "hunter22" not in out.stdout
    out = doctor(tmp_path / "data3", DATABASE_PROVIDER="postgres", DATABASE_URL="mongodb://127.0.0.1/x")
    assert out.returncode == 2 and "postgresql://" in out.stdout, out.stdout


def fake_ffmpeg(folder: Path, encoder_line: str) -> Path:
    """A folder holding an `ffmpeg` that answers `-version` and `-encoders` as a real one would."""
    folder.mkdir(parents=True)
    script = folder / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *-version*) echo "ffmpeg version 9.9-fake Copyright (c) 2000-2099 the FFmpeg developers";'
        ' echo "built with a shell";;\n'
        f'  *-encoders*) echo "Encoders:"; echo "{encoder_line}";;\n'
        "esac\n"
    )
    script.chmod(0o755)
    return folder


def path_without_ffmpeg(*first: Path) -> str:
    """PATH with `first` in front and every folder that holds an ffmpeg left out."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "ffmpeg").exists()]
    return os.pathsep.join([*map(str, first), *kept])


def test_doctor_reports_ffmpeg_and_pillow(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = doctor(data, PATH=path_without_ffmpeg())
    assert out.returncode == 0, out.stdout + out.stderr  # the server runs without ffmpeg: a warning only
    assert "WARN" in doctor_line(out, "ffmpeg") and "not on PATH" in doctor_line(out, "ffmpeg")
    assert "conversion_unavailable" in out.stdout
    assert "OK" in doctor_line(out, "Pillow")

    with_opus = fake_ffmpeg(tmp_path / "with-opus", " A..... libopus              libopus Opus (codec opus)")
    out = doctor(data, PATH=path_without_ffmpeg(with_opus))
    assert out.returncode == 0, out.stdout + out.stderr
    line = doctor_line(out, "ffmpeg")
    assert "OK" in line and "ffmpeg version 9.9-fake" in line and "Copyright" not in out.stdout

    without_opus = fake_ffmpeg(tmp_path / "without-opus", " A..... aac                  AAC (Advanced Audio Coding)")
    out = doctor(data, PATH=path_without_ffmpeg(without_opus))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARN" in doctor_line(out, "ffmpeg") and "libopus" in out.stdout


def test_doctor_fails_when_mongod_is_unreachable(tmp_path: Path) -> None:
    url = "mongodb://bob:hunter22@127.0.0.1:1/wamux"
    out = wamux(tmp_path / "data", "doctor", DATABASE_PROVIDER="mongodb", DATABASE_URL=url)
    assert out.returncode == 1, out.stdout + out.stderr
    mongod = next(line for line in out.stdout.splitlines() if line.startswith("│ mongod "))
    assert "FAIL" in mongod
    assert "hunter22" not in out.stdout


def test_doctor_with_a_reachable_mongod(tmp_path: Path, mongo_db_url: str) -> None:
    out = doctor(tmp_path / "data", DATABASE_PROVIDER="mongodb", DATABASE_URL=mongo_db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    for check in ("mongod", "event store"):
        line = next(line for line in out.stdout.splitlines() if line.startswith(f"│ {check} "))
        assert "OK" in line, line


def test_a_server_that_cannot_start_says_why_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = wamux(tmp_path / "data", "serve", HOST="127.0.0.1", PORT=str(port))
    assert out.returncode == 2, out.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in out.stderr and "PORT" in out.stderr
    assert "Traceback" not in out.stderr and "ExceptionGroup" not in out.stderr

    url = "mongodb://bob:hunter22@127.0.0.1:1/wamux?serverSelectionTimeoutMS=300"
    out = wamux(tmp_path / "mongo", "serve", DATABASE_PROVIDER="mongodb", DATABASE_URL=url)
    assert out.returncode == 2, out.stderr
    assert "cannot reach MongoDB at mongodb://bob:***@127.0.0.1:1/wamux" in out.stderr, out.stderr
    assert "hunter22" not in out.stderr and "Traceback" not in out.stderr

    if os.geteuid() == 0:
        return  # root writes anywhere: an unwritable DATA_DIR cannot be made here
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        out = wamux(locked / "data", "serve")
    finally:
        locked.chmod(0o700)
    assert out.returncode == 2, out.stderr
    assert "permission denied (set DATA_DIR" in out.stderr and "Traceback" not in out.stderr
