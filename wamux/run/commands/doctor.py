"""`wamux doctor`: check what the server needs before it starts, one line per check.

Only a `fail` makes the exit code 1; a `warn` is something the server runs without (ffmpeg for
voice notes, Pillow for stickers, neonize while the simulator is the transport). A taken PORT fails,
unless the server of this very DATA_DIR is the one holding it.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import importlib
import importlib.util
import platform
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wamux import __version__
from wamux.run.commands.base import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SERVE_LOCK
from wamux.run.commands.store import store_in_force
from wamux.run.config import ConfigError, Settings, load_settings
from wamux.run.logs import setup_logging

MIN_FREE_DISK = 500 * 1024 * 1024
SERVER_PING_TIMEOUT_MS = 3000
TOOL_TIMEOUT_S = 10


@dataclass
class Check:
    """One line of the doctor's table."""

    name: str
    status: str  # ok | warn | fail | skip  (only fail makes the exit code 1)
    detail: str


def check_disk(settings: Settings) -> Check:
    where = settings.data_dir.resolve()
    while not where.exists():  # a fresh DATA_DIR: measure the disk it will be created on
        where = where.parent
    free = shutil.disk_usage(where).free
    detail = f"{free / 1024**3:.1f} GB free in {where}"
    return Check(
        "disk space", "ok" if free > MIN_FREE_DISK else "fail", detail + ("" if free > MIN_FREE_DISK else " (< 500 MB)")
    )


def check_server(settings: Settings, name: str, provider: str) -> Check:
    """The database server of `provider` answers (skipped when the store in force is another)."""
    if settings.database_provider != provider:
        return Check(name, "skip", f"provider is {settings.database_provider}")
    from wamux.run.providers import LABELS, driver_reason, mask_url, mongo_cause, place, server_version

    assert settings.database_url  # the configuration requires it for a server provider
    try:
        version = server_version(provider, settings.database_url, SERVER_PING_TIMEOUT_MS)
    except Exception as exc:
        # pymongo appends its whole topology description: keep the cause only
        reason = driver_reason(exc, settings.database_url)
        if reason is None:
            reason = f"cannot reach {place(settings.database_url)}: {mongo_cause(exc)}"
        return Check(name, "fail", reason)
    return Check(name, "ok", f"{mask_url(settings.database_url)} ({LABELS[provider]} {version})")


def check_store(settings: Settings, server: Check) -> Check:
    """The event log and the read-model store open, as the server would open them."""
    if server.status == "fail":
        return Check("event store", "skip", f"{server.name} is unreachable")
    provider = settings.database_provider
    try:
        from wamux.run.providers import open_backend

        recorder, read_models = open_backend(settings, provider, settings.database_url)
        head = recorder.max_notification_id() or 0
        read_models.close()
    except Exception as exc:
        return Check("event store", "fail", f"{provider}: {type(exc).__name__}: {exc}")
    return Check("event store", "ok", f"{provider}, head position {head}")


def _lock_holder(settings: Settings) -> str | None:
    """The pid a running `wamux serve` wrote in DATA_DIR's lock, or None when no server holds it.

    Only looked at once the port is taken: a shared lock held for an instant, never the exclusive one.
    """
    path = settings.data_dir / SERVE_LOCK
    if not path.is_file():
        return None
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return fh.read().strip() or "?"
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def check_port(settings: Settings) -> Check:
    """PORT is free on HOST (bound for an instant, as the server binds it), or held by this DATA_DIR's server."""
    host, port = settings.host, settings.port
    if port == 0:
        return Check("port", "skip", "PORT=0: the server takes any free port")
    where = f"port {port} on {host}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server: TIME_WAIT is no owner
            probe.bind(address)
    except socket.gaierror as exc:
        return Check("port", "fail", f"HOST {host} does not resolve ({exc.strerror}): set HOST")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            holder = _lock_holder(settings)
            if holder is not None:
                return Check("port", "ok", f"{where} in use by the wamux server of this DATA_DIR (pid {holder})")
            return Check("port", "fail", f"{where} in use: stop what listens there or set PORT")
        if exc.errno == errno.EADDRNOTAVAIL:
            return Check("port", "fail", f"cannot listen on {host}: no such address on this machine (set HOST)")
        if exc.errno == errno.EACCES:
            return Check("port", "fail", f"{where}: permission denied (ports below 1024 need privileges; set PORT)")
        return Check("port", "fail", f"{where}: {exc.strerror or exc}")
    return Check("port", "ok", f"{where} free")


def _neonize_binary(package_dir: Path) -> Path:
    """The Go library neonize loads (the same name neonize computes), without importing neonize:
    its import would try to download a missing library."""
    system = platform.system().lower()
    arch = {"aarch64": "arm64", "x86_64": "amd64"}.get(platform.machine().lower(), platform.machine().lower())
    ext = {"windows": "dll", "darwin": "dylib"}.get(system, "so")
    return package_dir / f"neonize-{system}-{arch}.{ext}"


def check_neonize(settings: Settings) -> Check:
    # Needed only by the neonize transport: with the simulator a problem is a warning.
    bad = "fail" if settings.transport == "neonize" else "warn"
    spec = importlib.util.find_spec("neonize")
    if spec is None or not spec.submodule_search_locations:
        return Check("neonize", bad, "the neonize package is not installed")
    binary = _neonize_binary(Path(next(iter(spec.submodule_search_locations))))
    if not binary.is_file():
        return Check("neonize", bad, f"{binary} is missing (reinstall neonize)")
    try:
        module = importlib.import_module("neonize")
    except Exception as exc:
        return Check("neonize", bad, f"import failed: {type(exc).__name__}: {exc}")
    return Check("neonize", "ok", f"{getattr(module, '__version__', '?')}, {binary}")


def _run_tool(*command: str) -> subprocess.CompletedProcess[str] | str:
    """The finished process, or why it could not run."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"


def check_ffmpeg() -> Check:
    """ffmpeg on PATH with its Opus encoder: voice notes from other audio formats are converted with it."""
    without = "voice notes from audio that is not Ogg/Opus answer 422 conversion_unavailable"
    binary = shutil.which("ffmpeg")
    if binary is None:
        return Check("ffmpeg", "warn", f"not on PATH: {without} (install ffmpeg)")
    version = _run_tool(binary, "-hide_banner", "-version")
    if isinstance(version, str) or version.returncode != 0 or not version.stdout.strip():
        reason = version if isinstance(version, str) else f"exit {version.returncode}"
        return Check("ffmpeg", "warn", f"{binary} -version failed ({reason}): {without}")
    line = version.stdout.splitlines()[0].split(" Copyright")[0].strip()
    encoders = _run_tool(binary, "-hide_banner", "-encoders")
    if isinstance(encoders, str) or "libopus" not in encoders.stdout:
        return Check("ffmpeg", "warn", f"{line}, {binary}, but without the libopus encoder: {without}")
    return Check("ffmpeg", "ok", f"{line}, {binary}")


def check_pillow() -> Check:
    """Pillow imports: images sent as stickers are turned into 512x512 WebP with it."""
    try:
        module = importlib.import_module("PIL")
    except Exception as exc:
        return Check("Pillow", "warn", f"import failed ({type(exc).__name__}: {exc}): stickers cannot be converted")
    return Check("Pillow", "ok", str(getattr(module, "__version__", "?")))


def doctor_checks() -> tuple[list[Check], int]:
    """Every check in table order, and the exit code they add up to."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        names = ("port", "disk space", "mongod", "postgres", "event store")
        skipped = [Check(n, "skip", "needs a valid configuration") for n in names]
        return [Check("configuration", "fail", str(exc)), *skipped, check_ffmpeg(), check_pillow()], EXIT_USAGE
    settings, source = store_in_force(settings)
    checks = [Check("configuration", "ok", f"store {settings.database_provider}, {source}")]
    checks += [check_port(settings), check_disk(settings)]
    mongod = check_server(settings, "mongod", "mongodb")
    postgres = check_server(settings, "postgres", "postgres")
    server = postgres if settings.database_provider == "postgres" else mongod
    checks += [mongod, postgres, check_store(settings, server)]
    checks += [check_neonize(settings), check_ffmpeg(), check_pillow()]
    return checks, EXIT_FAILED if any(c.status == "fail" for c in checks) else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run every check, print them as a table; 0 all passed, 1 one failed, 2 bad configuration."""
    from rich.console import Console
    from rich.table import Table

    setup_logging("error")
    checks, code = doctor_checks()
    styles = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    table = Table(title=f"wamux {__version__} doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for c in checks:
        table.add_row(c.name, f"[{styles[c.status]}]{c.status.upper()}[/]", c.detail)
    Console(width=max(shutil.get_terminal_size().columns, 120)).print(table)
    return code
