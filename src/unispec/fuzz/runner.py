"""Running Schemathesis against a live gateway: the only I/O of the fuzz area.

Schemathesis runs as a child process (``python -m schemathesis.cli run``), one
per pass, with a generated ``schemathesis.toml``:

- the CLI is Schemathesis' stable interface: warnings that fail a run
  (``[warnings] fail-on``), JUnit/NDJSON reports and the exit code are CLI
  features, and a child process keeps Hypothesis' global state, its
  databases and its threads out of our process (and off our core);
- the child writes NDJSON events as it goes; we tail that file to drive the
  live view and to build our own report (by service, with curl reproducers).

Reproducibility: a fixed seed, ``generation.database = "none"`` (no examples
replayed from earlier runs), one worker on Python 3.11 and a fresh server.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from unispec.errors import ConfigError, UnispecError
from unispec.fuzz import toml
from unispec.fuzz.plan import (
    FuzzPass,
    FuzzPlan,
    Identity,
    build_plan,
    pass_tokens,
    schemathesis_config,
)
from unispec.fuzz.report import (
    PassResult,
    failure_blocks,
    junit_xml,
    progress_view,
    summary_tables,
)
from unispec.fuzz.results import Collector, Failure, Progress
from unispec.fuzz.settings import FuzzOptions
from unispec.tokens import claim_names, mint_token, resolve_secret

AUTH_FILE_ENV = "UNISPEC_FUZZ_AUTH_FILE"
"""Must match ``unispec.fuzz.st_hooks.AUTH_FILE_ENV`` (not imported: it imports schemathesis)."""
POLL_SECONDS = 0.2
DEFAULT_PASS_TIMEOUT = 1800.0


class FuzzError(UnispecError):
    """Schemathesis could not run at all (bad target, crashed child, timeout)."""


@dataclass
class FuzzResult:
    """Everything a run found; ``ok`` decides the exit code."""

    seed: int
    plan: FuzzPlan
    passes: list[PassResult] = field(default_factory=list)
    junit: Path | None = None
    elapsed: float = 0.0

    @property
    def failures(self) -> list[Failure]:
        return [f for p in self.passes for f in p.failures]

    @property
    def ok(self) -> bool:
        return bool(self.passes) and all(p.ok for p in self.passes)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def mint_identities(
    identities: tuple[Identity, ...],
    jwt_settings: Mapping[str, Any] | None,
    env: Mapping[str, str],
    tier: str,
    ttl: float = 4 * 3600,
) -> dict[str, str]:
    """One development token per identity, signed as the gateway expects.

    The secret, algorithm, claim names, issuer and audience all come from the
    same ``gateway.auth.jwt`` settings the gateway verifies with, so a token the
    fuzzer mints is exactly what the gateway accepts.
    """
    if not identities:
        return {}  # nothing is secured: no secret needed
    settings = dict(jwt_settings or {})
    algorithms = settings.get("algorithms") or ["HS256"]
    if not isinstance(algorithms, list) or not algorithms:
        raise ConfigError("unispec.yaml: /gateway/auth/jwt/algorithms must be a non-empty list")
    algorithm = next((a for a in algorithms if str(a).startswith("HS")), None)
    if algorithm is None:
        raise ConfigError(
            "unispec.yaml: /gateway/auth/jwt/algorithms: the fuzzer mints development tokens "
            "with an HS* secret; none of " + ", ".join(map(str, algorithms)) + " is HS*"
        )
    secret = resolve_secret(settings, env)
    names = claim_names(settings)
    extra: dict[str, Any] = {}
    if settings.get("issuer"):
        extra["iss"] = settings["issuer"]
    if settings.get("audience"):
        audience = settings["audience"]
        extra["aud"] = audience[0] if isinstance(audience, list) and audience else audience
    tokens: dict[str, str] = {}
    for identity in identities:
        claims = dict(extra)
        if identity.scopes:
            claims[names["scopes"]] = " ".join(identity.scopes)
        tokens[identity.key] = mint_token(
            secret,
            identity.sub,
            identity.roles,
            tier,
            ttl,
            str(algorithm),
            claim_names=names,
            **claims,
        )
    return tokens


def token_command(identity: Identity, tier: str) -> str:
    """The shell command minting this identity's token, for copy-pasteable curls."""
    parts = ["unispec", "token", "--sub", shlex.quote(identity.sub)]
    if identity.roles:
        parts += ["--roles", shlex.quote(",".join(identity.roles))]
    parts += ["--tier", shlex.quote(tier)]
    if identity.scopes:
        parts += ["--scope", shlex.quote(" ".join(identity.scopes))]
    return "$(" + " ".join(parts) + ")"


def _schemathesis_command(
    spec: Path, config: Path, base_url: str, fuzz_pass: FuzzPass, plan: FuzzPlan, workers: int
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        str(spec),
        "--url",
        base_url,
        "--workers",
        str(workers),
        "--phases",
        ",".join(fuzz_pass.phases),
    ]
    if set(fuzz_pass.operation_ids) != {t.operation_id for t in plan.targets}:
        for op_id in fuzz_pass.operation_ids:
            cmd += ["--include-operation-id", op_id]
    return cmd


class _Tail:
    """Reads complete lines appended to a file by another process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self._buffer = ""

    def lines(self) -> list[str]:
        if self._fh is None:
            if not self.path.exists():
                return []
            self._fh = self.path.open(encoding="utf-8")
        self._buffer += self._fh.read()
        if "\n" not in self._buffer:
            return []
        complete, _, self._buffer = self._buffer.rpartition("\n")
        return complete.split("\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _feed(collector: Collector, tail: _Tail) -> None:
    for line in tail.lines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            collector.feed(event)


def _fail_on_warnings(report: Path, names: list[str]) -> dict[str, list[str]]:
    if not report.is_file():
        return {}
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    found: dict[str, list[str]] = {}
    for name in names:
        ops = (data.get("warnings") or {}).get(name) or []
        if ops:
            found[name] = sorted(str(o) for o in ops)
    return found


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def check_reachable(base_url: str, timeout: float = 5.0) -> None:
    """Fail fast, with one clear message, when nothing answers at ``base_url``.

    Any HTTP answer (even 404) is fine: only a refused or timed-out connection
    means the run could test nothing.
    """
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--url {base_url}: expected an http(s) URL such as http://127.0.0.1:8080"
        )
    try:
        with urllib.request.urlopen(base_url, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FuzzError(f"nothing answers at {base_url}: {reason}") from None


def run_pass(
    fuzz_pass: FuzzPass,
    plan: FuzzPlan,
    *,
    spec: Path,
    base_url: str,
    workdir: Path,
    tokens: Mapping[str, str],
    options: FuzzOptions,
    seed: int,
    workers: int,
    on_progress: Callable[[Collector], None] | None = None,
    render_token: Callable[[str], str | None] | None = None,
    timeout: float = DEFAULT_PASS_TIMEOUT,
) -> PassResult:
    """One Schemathesis child process, tailed until it exits (bounded by ``timeout``)."""
    pass_dir = workdir / fuzz_pass.name
    pass_dir.mkdir(parents=True, exist_ok=True)
    config = schemathesis_config(fuzz_pass, options, seed=seed, report_dir=str(pass_dir))
    config_path = pass_dir / "schemathesis.toml"
    auth_path = pass_dir / "auth.json"
    auth_path.write_text(
        json.dumps({"tokens": pass_tokens(fuzz_pass, plan, tokens)}, indent=1), encoding="utf-8"
    )
    config_path.write_text(toml.dumps(config), encoding="utf-8")
    events = pass_dir / "events.ndjson"
    log_path = pass_dir / "schemathesis.log"
    for stale in (events, pass_dir / "report.json", pass_dir / "junit.xml"):
        # A kept folder from an earlier run must not be read as this run's events.
        stale.unlink(missing_ok=True)
    cmd = _schemathesis_command(spec, config_path, base_url, fuzz_pass, plan, workers)
    collector = Collector(plan, fuzz_pass.name, render_token)
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env["SCHEMATHESIS_HOOKS"] = "unispec.fuzz.st_hooks"
    env[AUTH_FILE_ENV] = str(auth_path)
    started = time.monotonic()
    tail = _Tail(events)
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=pass_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        try:
            while True:
                try:
                    proc.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pass
                _feed(collector, tail)
                if on_progress is not None:
                    on_progress(collector)
                if time.monotonic() - started > timeout:
                    proc.kill()
                    proc.wait(timeout=10)
                    raise FuzzError(
                        f"fuzz pass {fuzz_pass.name!r} did not finish within {timeout:.0f} s; "
                        f"see {log_path}"
                    )
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            _feed(collector, tail)
            tail.close()
    exit_code = int(proc.returncode)
    fail_on = list(config["warnings"]["fail-on"])
    result = PassResult(
        name=fuzz_pass.name,
        exit_code=exit_code,
        collector=collector,
        warnings=_fail_on_warnings(pass_dir / "report.json", fail_on),
        log_tail=_log_tail(log_path),
        elapsed=time.monotonic() - started,
    )
    if on_progress is not None:
        on_progress(collector)
    if exit_code not in (0, 1):
        raise FuzzError(
            f"Schemathesis exited with code {exit_code} in the {fuzz_pass.name} pass "
            f"(usage error or crash); its output ends with:\n{result.log_tail}"
        )
    return result


def run_fuzz(
    document: Mapping[str, Any],
    base_url: str,
    options: FuzzOptions | None = None,
    *,
    jwt_settings: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    console: Console | None = None,
    pass_timeout: float = DEFAULT_PASS_TIMEOUT,
) -> FuzzResult:
    """Fuzz the live API at ``base_url`` with the unified contract ``document``.

    Prints live progress, a summary by service and check and every failure
    with a reproducing curl to ``console``; writes JUnit XML to
    ``options.junit`` when set. Returns the result; ``result.ok`` is False on
    any failure, error or failing warning (and on an empty run).
    """
    options = options or FuzzOptions()
    console = console or Console(stderr=False)
    env = os.environ if env is None else env
    plan = build_plan(document, options)
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    workers, workers_note = options.effective_workers()
    if workers_note:
        console.print(f"[yellow]{workers_note}[/]")
    identities = plan.identities()
    tokens = mint_identities(identities, jwt_settings, env, options.tier)
    rendered = {tokens[i.key]: token_command(i, options.tier) for i in identities}

    def render_token(token: str) -> str | None:
        return rendered.get(token)

    base = base_url.rstrip("/")
    check_reachable(base)
    console.print(
        f"Fuzzing {escape(base)} with {len(plan.selected)} of {len(plan.targets)} operations; "
        f"seed {seed} (repeat with --seed {seed}); {options.max_examples} examples per "
        f"operation; phases {', '.join(options.phases)}; workers {workers}"
    )
    if identities:
        console.print(
            "Development tokens: "
            + "; ".join(
                escape(f"{i.key} (sub {i.sub}, roles [{', '.join(i.roles)}], tier {options.tier})")
                for i in identities
            )
        )
    started = time.monotonic()
    own_dir = options.keep_dir is None
    workdir = (
        Path(tempfile.mkdtemp(prefix="unispec-fuzz-")) if own_dir else Path(options.keep_dir or ".")
    )
    workdir.mkdir(parents=True, exist_ok=True)
    result = FuzzResult(seed=seed, plan=plan)
    try:
        doc = dict(document)
        doc["servers"] = [{"url": base}]
        spec = workdir / "openapi.json"
        spec.write_text(json.dumps(doc), encoding="utf-8")
        collectors: list[tuple[str, Progress, tuple[str, ...]]] = []
        live_ctx: Any = (
            Live(console=console, refresh_per_second=4, transient=True)
            if console.is_terminal
            else nullcontext()
        )
        with live_ctx as live:
            for fuzz_pass in plan.passes:

                def refresh(
                    current: Collector,
                    name: str = fuzz_pass.name,
                    phases: tuple[str, ...] = fuzz_pass.phases,
                ) -> None:
                    if live is None:
                        return
                    rows = [*collectors, (name, current.progress, phases)]
                    live.update(progress_view(rows, options.phases))

                pass_result = run_pass(
                    fuzz_pass,
                    plan,
                    spec=spec,
                    base_url=base,
                    workdir=workdir,
                    tokens=tokens,
                    options=options,
                    seed=seed,
                    workers=workers,
                    on_progress=refresh,
                    render_token=render_token,
                    timeout=pass_timeout,
                )
                collectors.append(
                    (fuzz_pass.name, pass_result.collector.progress, fuzz_pass.phases)
                )
                result.passes.append(pass_result)
        console.print(progress_view(collectors, options.phases))
    finally:
        result.elapsed = time.monotonic() - started
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print(summary_tables(plan, result.passes))
    blocks = failure_blocks(result.passes)
    if blocks:
        console.rule("[bold red]Failures")
        for block in blocks:
            console.print(block)
            console.print()
    if options.junit is not None:
        options.junit.parent.mkdir(parents=True, exist_ok=True)
        options.junit.write_bytes(junit_xml(plan, result.passes, seed))
        result.junit = options.junit
        console.print(f"JUnit report: {options.junit}")
    verdict = (
        "[bold green]no failures[/]" if result.ok else f"[bold red]{len(blocks)} failure(s)[/]"
    )
    console.print(f"Fuzz run finished in {result.elapsed:.1f} s: {verdict} (seed {seed})")
    return result
