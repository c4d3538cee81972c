"""Schemathesis' NDJSON event stream -> what the user needs to know (pure).

Schemathesis reports per operation label; our users think in services and
checks. The collector reads the events one at a time (so the live view and the
final report share one parser), attributes every check result to the
operation and so to its ``x-service``, deduplicates failures the way
Schemathesis does (same operation, check and message) and keeps, for each, the
request that triggered it so that a ``curl`` can reproduce it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from unispec.fuzz.plan import FuzzPlan, Target

UNIT_PHASES = ("examples", "coverage", "fuzzing")


@dataclass(frozen=True)
class Failure:
    """One unique failure: an operation broke one check in one way."""

    pass_name: str
    service: str
    operation: str
    """Schemathesis label: ``METHOD /path``."""
    operation_id: str
    check: str
    code: str
    title: str
    message: str
    phase: str
    curl: str
    status: int | None


@dataclass(frozen=True)
class RunError:
    """Schemathesis could not test something (a crash, an unreachable server, a bad schema)."""

    pass_name: str
    service: str
    operation: str
    message: str


@dataclass
class CheckTally:
    passed: int = 0
    failed: int = 0


@dataclass
class Progress:
    """Counters the live view shows while a pass runs."""

    phase: str = "loading"
    selected: int = 0
    done: dict[str, int] = field(default_factory=dict)
    """Unit phase -> operations finished."""
    stateful_scenarios: int = 0
    cases: int = 0
    failures: int = 0
    finished: bool = False


TokenRender = Callable[[str], str | None]
"""Bearer token -> how to write it in a reproducible curl (``None``: as is)."""


class Collector:
    """Feed it decoded NDJSON events, read failures, tallies and progress."""

    def __init__(
        self, plan: FuzzPlan, pass_name: str, render_token: TokenRender | None = None
    ) -> None:
        self.pass_name = pass_name
        self.progress = Progress()
        self.failures: list[Failure] = []
        self.errors: list[RunError] = []
        self.tally: dict[tuple[str, str], CheckTally] = {}
        """(service, check) -> results of every check call."""
        self.operation_tally: dict[tuple[str, str], CheckTally] = {}
        """(operation label, check) -> results (for the JUnit report)."""
        self.fatal: str | None = None
        self._by_label = plan.by_label()
        self._by_path: dict[str, Target] = {}
        for t in plan.targets:
            self._by_path.setdefault(t.path, t)
        self._seen: set[tuple[str, str, str]] = set()
        self._render_token = render_token
        self._digest = hashlib.sha256()

    # -- attribution -------------------------------------------------------------------
    def target(
        self, label: str | None, method: str | None = None, path: str | None = None
    ) -> Target | None:
        """The contract operation a case belongs to.

        ``unsupported_method`` cases use a method the path does not declare, and
        stateful scenarios span operations, so the case's own method and path
        are tried before the scenario label.
        """
        if method and path:
            hit = self._by_label.get(f"{method.upper()} {path}")
            if hit is not None:
                return hit
        if label:
            hit = self._by_label.get(label)
            if hit is not None:
                return hit
        if path:
            return self._by_path.get(path)
        return None

    # -- events ------------------------------------------------------------------------
    def feed(self, event: Mapping[str, Any]) -> None:
        for name, body in event.items():
            if not isinstance(body, Mapping):
                continue
            handler = getattr(self, f"_on_{name}", None)
            if handler is not None:
                handler(body)

    def _on_LoadingFinished(self, body: Mapping[str, Any]) -> None:
        ops = ((body.get("statistic") or {}).get("operations") or {}).get("selected")
        if isinstance(ops, int):
            self.progress.selected = ops

    def _on_PhaseStarted(self, body: Mapping[str, Any]) -> None:
        phase = (body.get("phase") or {}).get("name")
        if isinstance(phase, str):
            self.progress.phase = phase

    def _on_EngineFinished(self, body: Mapping[str, Any]) -> None:
        self.progress.finished = True
        self.progress.phase = "done"

    def _on_FatalError(self, body: Mapping[str, Any]) -> None:
        exc = body.get("exception") or {}
        self.fatal = f"{exc.get('type', 'Error')}: {exc.get('message', '')}".strip()

    def _on_NonFatalError(self, body: Mapping[str, Any]) -> None:
        label = str(body.get("label") or "")
        value = body.get("value") or {}
        message = f"{value.get('type', 'Error')}: {value.get('message', '')}".strip()
        target = self.target(label)
        error = RunError(
            pass_name=self.pass_name,
            service=target.service if target else "-",
            operation=label,
            message=message,
        )
        if error not in self.errors:
            self.errors.append(error)

    def _on_ScenarioFinished(self, body: Mapping[str, Any]) -> None:
        phase = str(body.get("phase") or "")
        if phase in UNIT_PHASES:
            self.progress.done[phase] = self.progress.done.get(phase, 0) + 1
        elif phase == "stateful":
            self.progress.stateful_scenarios += 1
        recorder = body.get("recorder") or {}
        label = recorder.get("label")
        cases = recorder.get("cases") or {}
        interactions = recorder.get("interactions") or {}
        self.progress.cases += len(cases)
        self._fingerprint(phase, label, cases, interactions)
        for case_id, checks in (recorder.get("checks") or {}).items():
            case = (cases.get(case_id) or {}).get("value") or {}
            target = self.target(label, case.get("method"), case.get("path"))
            service = target.service if target else "-"
            operation = target.label if target else str(label or "?")
            for check in checks or ():
                name = str(check.get("name") or "?")
                tally = self.tally.setdefault((service, name), CheckTally())
                op_tally = self.operation_tally.setdefault((operation, name), CheckTally())
                if check.get("status") == "success":
                    tally.passed += 1
                    op_tally.passed += 1
                    continue
                if check.get("status") != "failure":
                    continue
                tally.failed += 1
                op_tally.failed += 1
                info = ((check.get("failure_info") or {}).get("failure")) or {}
                self._add_failure(
                    phase=phase,
                    target=target,
                    operation=operation,
                    check=name,
                    info=info,
                    interaction=interactions.get(case_id) or {},
                )

    def _fingerprint(
        self, phase: str, label: Any, cases: Mapping[str, Any], interactions: Mapping[str, Any]
    ) -> None:
        """Fold every request sent into a digest (case ids are random, requests are not)."""
        requests = []
        for case_id in cases:
            request = (interactions.get(case_id) or {}).get("request") or {}
            headers = {
                k: v
                for k, v in (request.get("headers") or {}).items()
                if k.lower() != "authorization"
            }
            requests.append(
                json.dumps(
                    [request.get("method"), _path_and_query(request), headers, request.get("body")],
                    sort_keys=True,
                )
            )
        self._digest.update(json.dumps([phase, str(label), sorted(requests)]).encode())

    @property
    def request_digest(self) -> str:
        """Same seed + fresh server -> same digest: what "reproducible" means, checkable."""
        return self._digest.hexdigest()

    def _add_failure(
        self,
        *,
        phase: str,
        target: Target | None,
        operation: str,
        check: str,
        info: Mapping[str, Any],
        interaction: Mapping[str, Any],
    ) -> None:
        message = str(info.get("message") or "")
        title = str(info.get("title") or check)
        key = (operation, check, _first_line(title) + "\n" + _dedupe_key(message))
        if key in self._seen:
            return
        self._seen.add(key)
        self.progress.failures += 1
        response = interaction.get("response") or {}
        status = response.get("status_code")
        self.failures.append(
            Failure(
                pass_name=self.pass_name,
                service=target.service if target else "-",
                operation=operation,
                operation_id=target.operation_id if target else "",
                check=check,
                code=str(info.get("code") or ""),
                title=title,
                message=message,
                phase=phase,
                curl=curl_command(interaction.get("request") or {}, self._render_token),
                status=status if isinstance(status, int) else None,
            )
        )


def _path_and_query(request: Mapping[str, Any]) -> str:
    """The URI without scheme and host: a fresh server listens on another port."""
    parts = urlsplit(str(request.get("uri") or ""))
    return f"{parts.path}?{parts.query}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


_VALUE = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|-?\b\d+(?:\.\d+)?\b")


def _dedupe_key(message: str) -> str:
    """Failures differing only by the generated value are one failure.

    ``"999" is not of type "integer"`` and ``"0" is not of type "integer"`` at
    the same schema location are the same bug; the location (``Schema at``)
    stays in the key so that two broken fields stay two failures.
    """
    lines = message.strip().splitlines()
    key = _VALUE.sub("<v>", lines[0]) if lines else ""
    where = next((line.strip() for line in lines if line.strip().startswith("Schema at")), "")
    return f"{key}|{where}"


def curl_command(request: Mapping[str, Any], render_token: TokenRender | None = None) -> str:
    """A shell-safe ``curl`` repeating the recorded request byte for byte (bodies as text)."""
    method = str(request.get("method") or "GET").upper()
    uri = str(request.get("uri") or request.get("url") or "")
    parts = ["curl", "-sS", "-i", "-X", method, shlex.quote(uri)]
    headers = request.get("headers") or {}
    for name, values in sorted(headers.items()):
        for value in values if isinstance(values, list) else [values]:
            text = str(value)
            if name.lower() == "authorization" and render_token is not None:
                scheme, _, token = text.partition(" ")
                rendered = render_token(token) if scheme.lower() == "bearer" else None
                if rendered is not None:
                    # Double quotes so that a $(...) token command expands in the shell.
                    parts += ["-H", f'"{name}: Bearer {rendered}"']
                    continue
            parts += ["-H", shlex.quote(f"{name}: {text}")]
    body = request.get("body")
    prefix = ""
    if isinstance(body, Mapping) and "$base64" in body:
        raw = base64.b64decode(str(body["$base64"]))
        try:
            parts += ["--data-binary", shlex.quote(raw.decode("utf-8"))]
        except UnicodeDecodeError:
            # Not text: printf rebuilds the exact bytes and pipes them in.
            escaped = "".join(f"\\x{b:02x}" for b in raw)
            prefix = f"printf '{escaped}' | "
            parts += ["--data-binary", "@-"]
    elif isinstance(body, str):
        parts += ["--data-binary", shlex.quote(body)]
    return prefix + " ".join(parts)


def merge_tallies(collectors: Iterable[Collector]) -> dict[tuple[str, str], CheckTally]:
    merged: dict[tuple[str, str], CheckTally] = {}
    for c in collectors:
        for key, tally in c.tally.items():
            into = merged.setdefault(key, CheckTally())
            into.passed += tally.passed
            into.failed += tally.failed
    return merged
