"""A real MLflow tracking server on loopback, for tests that export OpenTelemetry spans to it.

MLflow pins many packages, so it lives in its own virtualenv (``.venv-mlflow`` at the repo root,
made with ``python3 -m venv .venv-mlflow && .venv-mlflow/bin/pip install mlflow``) and never in
the test process. ``GENAI_TEST_MLFLOW`` may instead point at any ``mlflow`` executable; the
Python next to it (or named by its ``#!`` line) runs the trace reader.

Usage::

    with mlflow_server() as server:
        exporter = OTLPSpanExporter(endpoint=server.otlp_endpoint, headers=server.otlp_headers)
        ...  # export spans, then force_flush() the span processor
        traces = server.read_traces()
        assert traces[0]["spans"][0]["span_type"] == "LLM"

The server runs with a throwaway sqlite store in a temp directory, with MLflow's telemetry, its
remote model-catalog fetch and its background job runner turned off, so it opens no outbound
connection. It is killed with its whole process group when the block ends. Starting it takes
about 15 s, so share one per session and give each test its own experiment
(:meth:`MlflowServer.create_experiment`).

Traces are stored as soon as the OTLP export request returns, so :meth:`MlflowServer.read_traces`
needs no polling. It runs ``mlflow_read_traces.py`` (beside this file) with the MLflow venv's
Python; see that script for the shape of the data it returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_VAR",
    "EXPERIMENT_HEADER",
    "MlflowNotFoundError",
    "MlflowServer",
    "MlflowServerError",
    "find_mlflow_executable",
    "mlflow_server",
    "mlflow_server_env",
]

#: Environment variable naming an ``mlflow`` executable to use instead of ``.venv-mlflow``.
ENV_VAR = "GENAI_TEST_MLFLOW"

#: The OTLP request header that names the experiment spans go to (required by MLflow).
EXPERIMENT_HEADER = "x-mlflow-experiment-id"

REPO_ROOT = Path(__file__).resolve().parents[2]
READER_SCRIPT = Path(__file__).with_name("mlflow_read_traces.py")

# Settings that keep the server (and the reader) off the network and light:
_OFFLINE_ENV = {
    # No telemetry upload (MLflow otherwise resolves config.mlflow-telemetry.io at start).
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # No download of the model price catalog when a span names a model (bundled one is used).
    "MLFLOW_MODEL_CATALOG_URI": "",
    # No job runner and Huey consumers (seven extra processes); OTLP ingestion does not use them.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}
# Variables from the test process that must not leak into MLflow's interpreter.
_DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MLFLOW_TRACKING_URI")

_LOG_TAIL_CHARS = 6000


class MlflowServerError(RuntimeError):
    """The MLflow server could not be started or queried."""


class MlflowNotFoundError(MlflowServerError):
    """No MLflow executable was found (callers usually skip the test)."""


def find_mlflow_executable() -> Path | None:
    """Return the ``mlflow`` executable to use, or ``None`` when there is none.

    ``$GENAI_TEST_MLFLOW`` wins when set (it must then name an existing file); otherwise
    ``.venv-mlflow/bin/mlflow`` under the repository root is used if it exists.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_file() else None
    default = REPO_ROOT / ".venv-mlflow" / "bin" / "mlflow"
    return default if default.is_file() else None


def _python_for(executable: Path) -> Path:
    """Return the Python interpreter that runs ``executable`` (an ``mlflow`` console script)."""
    for name in ("python", "python3"):
        candidate = executable.parent / name
        if candidate.is_file():
            return candidate
    with executable.open("rb") as handle:
        first_line = handle.readline().decode(errors="replace").strip()
    if first_line.startswith("#!"):
        interpreter = first_line[2:].split()[0]
        if Path(interpreter).is_file():
            return Path(interpreter)
    raise MlflowNotFoundError(f"cannot find the Python interpreter of {executable}")


def mlflow_server_env() -> dict[str, str]:
    """Return the environment for MLflow processes: this one, offline and isolated."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(_OFFLINE_ENV)
    return env


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log_path: Path) -> str:
    """Return the end of the server's log, for error messages."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    if len(text) > _LOG_TAIL_CHARS:
        text = "...\n" + text[-_LOG_TAIL_CHARS:]
    return text


def _request_json(url: str, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """POST ``payload`` as JSON to ``url`` and return the decoded JSON answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        raise MlflowServerError(f"POST {url} failed: HTTP {exc.code}: {body}") from exc


@dataclass
class MlflowServer:
    """A running MLflow tracking server and the experiment made for the test.

    Attributes:
        url: Base URL, e.g. ``http://127.0.0.1:41234`` (the tracking URI).
        experiment_id: Id of the experiment created at start.
        python: The MLflow venv's interpreter (runs the trace reader).
        workdir: Directory holding the sqlite store, artifacts and ``server.log``.
        process: The ``mlflow server`` process (leader of its own process group).
    """

    url: str
    experiment_id: str
    python: Path
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP traces endpoint (``<url>/v1/traces``)."""
        return f"{self.url}/v1/traces"

    @property
    def otlp_headers(self) -> dict[str, str]:
        """Headers an OTLP exporter needs to send spans to :attr:`experiment_id`."""
        return {EXPERIMENT_HEADER: self.experiment_id}

    @property
    def log_path(self) -> Path:
        """The file receiving the server's standard output and error."""
        return self.workdir / "server.log"

    def log(self) -> str:
        """Return the tail of the server's log."""
        return _log_tail(self.log_path)

    def create_experiment(self, name: str | None = None) -> str:
        """Create an experiment through the REST API and return its id."""
        name = name or f"pytest-genai-{time.time_ns()}"
        answer = _request_json(f"{self.url}/api/2.0/mlflow/experiments/create", {"name": name})
        return str(answer["experiment_id"])

    def read_traces(
        self, experiment_id: str | None = None, *, timeout: float = 120.0
    ) -> list[dict[str, Any]]:
        """Return every trace of an experiment (default: :attr:`experiment_id`), oldest first.

        Each trace is a dict with ``trace_id``, ``state``, ``token_usage`` (or ``None``),
        ``request_preview``, ``response_preview``, ``tags``, ``metadata`` and ``spans``; each
        span has ``name``, ``span_id``, ``parent_id``, ``span_type``, ``status``, ``inputs``,
        ``outputs``, decoded ``attributes`` and ``events`` (see ``mlflow_read_traces.py``).
        """
        command = [
            str(self.python),
            str(READER_SCRIPT),
            self.url,
            experiment_id or self.experiment_id,
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                env=mlflow_server_env(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MlflowServerError(
                f"reading traces timed out after {timeout:g}s\n--- server log ---\n{self.log()}"
            ) from exc
        stderr = result.stderr.decode(errors="replace")
        if result.returncode != 0:
            raise MlflowServerError(
                f"trace reader exited with {result.returncode}:\n{stderr}\n"
                f"--- server log ---\n{self.log()}"
            )
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise MlflowServerError(
                f"trace reader printed no JSON: {result.stdout[:2000]!r}\n{stderr}"
            ) from exc
        return list(data)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll ``<url>/health`` until it answers ``OK``; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MlflowServerError(f"mlflow server exited with {process.returncode} at start")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise MlflowServerError(f"mlflow server did not answer {url}/health within {timeout:g}s")


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate the server's process group (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    # The server forks uvicorn workers; all share the group started with start_new_session.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Kill whatever is left of the group (workers may outlive the leader).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


@contextlib.contextmanager
def mlflow_server(
    *,
    executable: Path | None = None,
    workdir: Path | None = None,
    startup_timeout: float = 120.0,
    experiment_name: str = "pytest-genai",
) -> Iterator[MlflowServer]:
    """Start an MLflow tracking server on a free 127.0.0.1 port and yield it.

    Args:
        executable: The ``mlflow`` executable; default :func:`find_mlflow_executable`.
        workdir: Directory for the sqlite store, artifacts and log; default a temp directory
            that is removed afterwards (a given directory is kept).
        startup_timeout: Seconds to wait for ``/health``.
        experiment_name: Name of the experiment created at start.

    Raises:
        MlflowNotFoundError: No MLflow executable was found.
        MlflowServerError: The server did not start in time or the experiment could not be
            made; the message includes the server's log.
    """
    executable = executable or find_mlflow_executable()
    if executable is None:
        configured = os.environ.get(ENV_VAR)
        where = f"{ENV_VAR}={configured} is not a file" if configured else "no MLflow executable"
        raise MlflowNotFoundError(
            f"{where}: make {REPO_ROOT / '.venv-mlflow'} "
            f"(python3 -m venv .venv-mlflow && .venv-mlflow/bin/pip install mlflow) "
            f"or set {ENV_VAR} to an mlflow executable"
        )
    python = _python_for(executable)
    own_workdir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="genai-mlflow-")) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(3):
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            command = [
                str(executable),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--default-artifact-root",
                str(root / "artifacts"),
                "--artifacts-destination",
                str(root / "mlartifacts"),
            ]
            with log_path.open("ab") as log:
                log.write(f"$ {' '.join(command)}\n".encode())
                log.flush()
                process = subprocess.Popen(
                    command,
                    cwd=root,
                    env=mlflow_server_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                _wait_healthy(url, process, startup_timeout)
                break
            except MlflowServerError as exc:
                _stop(process)
                log_text = _log_tail(log_path)
                # Another process took the port between _free_port() and the bind: retry.
                if "address already in use" in log_text.lower() and attempt < 2:
                    continue
                raise MlflowServerError(f"{exc}\n--- {log_path} ---\n{log_text}") from None
        assert process is not None
        server = MlflowServer(
            url=url, experiment_id="", python=python, workdir=root, process=process
        )
        try:
            server.experiment_id = server.create_experiment(experiment_name)
        except (MlflowServerError, OSError) as exc:
            raise MlflowServerError(f"{exc}\n--- {log_path} ---\n{server.log()}") from exc
        yield server
    finally:
        if process is not None:
            _stop(process)
        if own_workdir:
            shutil.rmtree(root, ignore_errors=True)
