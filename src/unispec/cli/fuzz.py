"""``unispec fuzz``: Schemathesis against the live gateway, with the unified contract.

Without ``--url`` the command starts the embedded stack itself (gateway + mock
upstreams on free loopback ports, in a child process so that it has a core of
its own), with every rate limit multiplied by ``fuzz.rate_limit_multiplier``
(printed, never silently off), fuzzes it and stops it. The child is this
module run with ``python -m unispec.cli.fuzz``: the only place where the
gateway and the fuzzer meet, since ``unispec.fuzz`` and ``unispec.gateway`` are
siblings that never import each other.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from unispec.cli._common import ProjectOption, escape, guarded, out
from unispec.errors import ConfigError, UnispecError

STACK_START_TIMEOUT = 60.0


class StackError(UnispecError):
    """The embedded stack could not be started for fuzzing."""


@contextlib.contextmanager
def embedded_stack(
    project: Path, multiplier: int, *, timeout: float = STACK_START_TIMEOUT
) -> Iterator[dict[str, Any]]:
    """Gateway + mocks of ``project`` on free ports in a child process; yields its URLs.

    The child binds port 0, reports its URLs as one JSON line on stdout, and
    is stopped with SIGTERM (then SIGKILL) whatever happens in the block.
    """
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finally
        "w+", prefix="unispec-fuzz-stack-", suffix=".log", delete=False, encoding="utf-8"
    )
    cmd = [
        sys.executable,
        "-m",
        "unispec.cli.fuzz",
        "--project",
        str(project),
        "--multiplier",
        str(multiplier),
    ]
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env, text=True
    )
    try:
        info = _wait_ready(proc, log, timeout)
        # Keep reading whatever the child still prints so a full pipe never blocks it.
        drain = threading.Thread(target=_drain, args=(proc,), daemon=True)
        drain.start()
        yield info
    finally:
        _stop(proc)
        log.close()
        with contextlib.suppress(OSError):
            os.unlink(log.name)


def _drain(proc: subprocess.Popen[str]) -> None:
    if proc.stdout is None:
        return
    with contextlib.suppress(OSError, ValueError):
        for _ in proc.stdout:
            pass


def _read_log(log: IO[str]) -> str:
    log.flush()
    with contextlib.suppress(OSError), open(log.name, encoding="utf-8", errors="replace") as fh:
        return "\n".join(fh.read().splitlines()[-30:])
    return ""


def _wait_ready(proc: subprocess.Popen[str], log: IO[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    line = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()  # the child prints exactly one line once bound
            break
        if proc.poll() is not None:
            break
    if not line:
        _stop(proc)
        proc.wait(timeout=10)
        raise StackError(
            f"the embedded gateway did not start (exit code {proc.returncode}):\n{_read_log(log)}"
        )
    try:
        info: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        raise StackError(f"the embedded gateway printed {line!r} instead of its URLs") from None
    url = str(info["url"])
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"the embedded gateway exited early:\n{_read_log(log)}")
        try:
            with urllib.request.urlopen(f"{url}/openapi.json", timeout=2) as response:
                if response.status == 200:
                    return info
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise StackError(f"the embedded gateway at {url} did not answer within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout is not None:
        with contextlib.suppress(OSError, ValueError):
            proc.stdout.close()


def _stack_child(argv: Sequence[str]) -> int:
    """Child process: serve the project's gateway + mocks with raised rate limits."""
    from unispec.build import load_unified
    from unispec.config import load_config
    from unispec.fuzz import raise_rate_limits
    from unispec.gateway.server import Plan, run
    from unispec.gateway.settings import parse_settings

    parser = argparse.ArgumentParser(prog="unispec.cli.fuzz")
    parser.add_argument("--project", required=True)
    parser.add_argument("--multiplier", type=int, required=True)
    args = parser.parse_args(argv)
    project = Path(args.project)
    try:
        config = load_config(project)
        spec = load_unified(project, config=config)
        document, gateway, raised = raise_rate_limits(
            spec.document, config.gateway, args.multiplier
        )
        settings = parse_settings(
            gateway, config.services, host="127.0.0.1", port=0, workers=1, root=str(config.root)
        )
        settings = replace(settings, access_log=False)
    except UnispecError as exc:
        print(exc.render(), file=sys.stderr, flush=True)
        return exc.exit_code

    def ready(p: Plan) -> None:
        print(
            json.dumps({"url": p.gateway_url, "mocks": p.mock_urls(), "raised": raised}),
            flush=True,
        )

    run(replace(spec, document=document), settings, mocks=True, on_ready=ready)
    return 0


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def fuzz(
        project: ProjectOption = None,
        url: Annotated[
            str | None,
            typer.Option(
                "--url",
                help="Base URL of a running gateway (default: start the embedded stack "
                "on free ports, fuzz it, stop it).",
            ),
        ] = None,
        max_examples: Annotated[
            int | None,
            typer.Option("--max-examples", "-n", min=1, help="Test cases per operation."),
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", min=0, help="Seed (same seed, same cases).")
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option("--workers", "-w", min=1, help="Schemathesis workers (1 on 3.11)."),
        ] = None,
        operation: Annotated[
            list[str] | None,
            typer.Option(
                "--operation", "-o", help="operationId or 'METHOD /path' to fuzz (repeatable)."
            ),
        ] = None,
        service: Annotated[
            list[str] | None,
            typer.Option("--service", "-s", help="Fuzz only this x-service (repeatable)."),
        ] = None,
        phases: Annotated[
            str | None,
            typer.Option(
                "--phases", help="Comma-separated: examples,coverage,fuzzing,stateful (all)."
            ),
        ] = None,
        junit: Annotated[
            Path | None,
            typer.Option("--junit", help="Write a JUnit XML report here.", dir_okay=False),
        ] = None,
    ) -> None:
        """Fuzz the gateway with Schemathesis: every check, stateful links, per-role tokens."""
        from unispec.build import load_unified
        from unispec.config import load_config
        from unispec.fuzz import fuzz_options, run_fuzz
        from unispec.fuzz.settings import parse_phases

        config = load_config(project)
        spec = load_unified(project, config=config)
        options = fuzz_options(
            config.fuzz,
            max_examples=max_examples,
            seed=seed,
            workers=workers,
            operations=tuple(operation or ()),
            services=tuple(service or ()),
            phases=parse_phases(phases, "--phases") if phases else None,
            junit=junit,
        )
        auth = config.gateway.get("auth") or {}
        jwt_settings = auth.get("jwt") if isinstance(auth, dict) else None
        if jwt_settings is not None and not isinstance(jwt_settings, dict):
            raise ConfigError("unispec.yaml: /gateway/auth/jwt must be a mapping")
        if url is not None:
            out.print(
                f"Target {escape(url)}: its rate limits are its own (unispec changes nothing "
                "there); a throttled run fails with the rate_limited warning."
            )
            result = run_fuzz(spec.document, url, options, jwt_settings=jwt_settings, console=out)
        else:
            with embedded_stack(config.root, options.rate_limit_multiplier) as stack:
                out.print(
                    f"Started the embedded stack on {stack['url']} "
                    f"({len(stack.get('mocks') or {})} mock upstream(s)). Rate limits raised "
                    f"×{options.rate_limit_multiplier} for this run "
                    f"(fuzz.rate_limit_multiplier; {stack.get('raised', 0)} limit(s)); "
                    "the limiter stays on."
                )
                result = run_fuzz(
                    spec.document, stack["url"], options, jwt_settings=jwt_settings, console=out
                )
        raise typer.Exit(result.exit_code)


if __name__ == "__main__":
    sys.exit(_stack_child(sys.argv[1:]))
