"""docs/sdk.md's walk-through, run as a newcomer runs it: the marked blocks are taken from the
page in order — the `rampart apply` file is saved as `shop.yaml`, the shell lines run (`rampart
serve` in the background, on a free port), and the Python snippets run in one namespace against
that live server. Editing the page changes what this test runs, so the page cannot rot."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from tests.policies.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "sdk.md"
RAMPART = str(Path(sys.executable).with_name("rampart"))
BLOCK = re.compile(r"^<!-- walkthrough -->\n```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SECRET = re.compile(r"^client (\S+) client_secret: (\S+)$", re.MULTILINE)


def walkthrough_blocks() -> list[tuple[str, str]]:
    return [(language, code) for language, code in BLOCK.findall(PAGE.read_text("utf-8"))]


def _rampart_argv(line: str) -> list[str]:
    """A shell line of the page as argv: `uv run rampart ...` is the project's `rampart`."""
    argv = shlex.split(line, comments=True)
    if argv[:2] == ["uv", "run"]:
        argv = argv[2:]
    assert argv[0] == "rampart", f"the walk-through runs only rampart commands: {line!r}"
    return [RAMPART, *argv[1:]]


@contextmanager
def serving(argv: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[None]:
    process = subprocess.Popen(
        [*argv, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"rampart serve exited: {stderr[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "rampart serve did not start within 60 s"
            time.sleep(0.2)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.integration
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sdk_walkthrough_works_as_written(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = walkthrough_blocks()
    languages = [language for language, _ in blocks]
    # The page keeps its shape: the file, the shell lines, then the Python steps.
    assert languages[:2] == ["yaml", "sh"] and languages.count("python") >= 5, languages

    workdir = tmp_path / "checkout"
    workdir.mkdir()
    # "at the top of the checkout": the file names the default policy relative to itself.
    (workdir / "policies").symlink_to(ROOT / "policies")
    (workdir / "shop.yaml").write_text(blocks[0][1], encoding="utf-8")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RAMPART_ISSUER": url, "RAMPART_LOG_LEVEL": "WARNING"}
    env.pop("RAMPART_REDIS_URL", None)
    secrets: dict[str, str] = {}
    serve: list[str] | None = None
    for line in blocks[1][1].splitlines():
        if not line.strip():
            continue
        argv = _rampart_argv(line)
        if argv[1] == "serve":
            serve = argv
            continue
        done = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (line, done.stderr)
        secrets.update(SECRET.findall(done.stdout))
    assert serve is not None, "the walk-through starts rampart serve"
    assert set(secrets) == {"shop-orders", "web-frontend", "crm"}
    for name, secret in secrets.items():
        monkeypatch.setenv(name.upper().replace("-", "_") + "_SECRET", secret)
    monkeypatch.setenv("RAMPART_URL", url)

    with serving(serve, env, workdir, port):
        namespace: dict[str, object] = {"__name__": "walkthrough"}
        for index, (language, code) in enumerate(blocks[2:], start=3):
            assert language == "python", f"block {index} is {language}"
            exec(compile(code, f"docs/sdk.md walk-through block {index}", "exec"), namespace)  # noqa: S102
