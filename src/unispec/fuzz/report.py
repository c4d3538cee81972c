"""Rendering a fuzz run: live progress, summary tables, failures, JUnit XML.

Pure functions from the collected results to rich renderables and XML bytes;
the runner decides where they go.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from unispec.fuzz.plan import FORBIDDEN, FuzzPlan
from unispec.fuzz.results import CheckTally, Collector, Failure, Progress, RunError

MAX_MESSAGE_LINES = 14


@dataclass
class PassResult:
    """The outcome of one Schemathesis invocation."""

    name: str
    exit_code: int
    collector: Collector
    warnings: dict[str, list[str]] = field(default_factory=dict)
    """Warnings that fail the run: warning name -> operation labels."""
    log_tail: str = ""
    elapsed: float = 0.0

    @property
    def failures(self) -> list[Failure]:
        return self.collector.failures

    @property
    def errors(self) -> list[RunError]:
        errors = list(self.collector.errors)
        if self.collector.fatal:
            errors.append(RunError(self.name, "-", "-", self.collector.fatal))
        return errors

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors and not self.warnings


def progress_view(
    passes: Sequence[tuple[str, Progress, Sequence[str]]], phases: Sequence[str]
) -> RenderableType:
    """One row per pass: where it is, how far each phase got, failures so far."""
    table = Table(title="unispec fuzz", title_justify="left", expand=False)
    table.add_column("pass")
    table.add_column("phase")
    for phase in phases:
        table.add_column(phase, justify="right")
    table.add_column("cases", justify="right")
    table.add_column("failures", justify="right")
    for name, progress, pass_phases in passes:
        cells: list[RenderableType] = [name, progress.phase]
        for phase in phases:
            if phase not in pass_phases:
                cells.append("-")
            elif phase == "stateful":
                cells.append(str(progress.stateful_scenarios) + " scen.")
            else:
                cells.append(f"{progress.done.get(phase, 0)}/{progress.selected or '?'}")
        cells.append(str(progress.cases))
        cells.append(
            Text(str(progress.failures), style="bold red" if progress.failures else "green")
        )
        table.add_row(*cells)
    return table


def _services_of(plan: FuzzPlan) -> list[str]:
    selected = set(plan.selected)
    return sorted({t.service for t in plan.targets if t.operation_id in selected})


def summary_tables(plan: FuzzPlan, results: Sequence[PassResult]) -> RenderableType:
    """By service (operations, checks run, failures) and by check (which services fail it)."""
    tally: dict[tuple[str, str], CheckTally] = {}
    for r in results:
        for key, t in r.collector.tally.items():
            into = tally.setdefault(key, CheckTally())
            into.passed += t.passed
            into.failed += t.failed
    failures = [f for r in results for f in r.failures]
    errors = [e for r in results for e in r.errors]
    warned = [(w, op) for r in results for w, ops in r.warnings.items() for op in ops]
    selected = set(plan.selected)

    by_service = Table(title="By service", title_justify="left")
    for col, justify in (
        ("service", "left"),
        ("operations", "right"),
        ("checks run", "right"),
        ("unique failures", "right"),
        ("failing checks", "left"),
    ):
        by_service.add_column(col, justify=justify)  # type: ignore[arg-type]
    for service in _services_of(plan):
        ops = sum(1 for t in plan.targets if t.service == service and t.operation_id in selected)
        runs = sum(t.passed + t.failed for (s, _), t in tally.items() if s == service)
        mine = [f for f in failures if f.service == service]
        n_bad = len(mine) + sum(1 for e in errors if e.service == service)
        failing = sorted(
            {f.check for f in mine} | {"error" for e in errors if e.service == service}
        )
        by_service.add_row(
            service,
            str(ops),
            str(runs),
            Text(str(n_bad), style="bold red" if n_bad else "green"),
            ", ".join(failing) or "-",
        )

    by_check = Table(title="By check", title_justify="left")
    for col, justify in (
        ("check", "left"),
        ("passed", "right"),
        ("failed", "right"),
        ("unique failures", "right"),
        ("services", "left"),
    ):
        by_check.add_column(col, justify=justify)  # type: ignore[arg-type]
    checks = sorted({c for (_, c) in tally})
    for check in checks:
        passed = sum(t.passed for (_, c), t in tally.items() if c == check)
        failed = sum(t.failed for (_, c), t in tally.items() if c == check)
        mine = [f for f in failures if f.check == check]
        by_check.add_row(
            check,
            str(passed),
            Text(str(failed), style="bold red" if failed else "green"),
            str(len(mine)),
            ", ".join(sorted({f.service for f in mine})) or "-",
        )
    for warning in sorted({w for w, _ in warned}):
        labels = [op for w, op in warned if w == warning]
        by_check.add_row(
            f"warning: {warning}",
            "-",
            Text(str(len(labels)), style="bold red"),
            str(len(labels)),
            "-",
        )
    return Group(by_service, Text(""), by_check)


def failure_blocks(results: Sequence[PassResult]) -> list[RenderableType]:
    """Each unique failure with its message and the curl that reproduces it."""
    out: list[RenderableType] = []
    n = 0
    for r in results:
        for f in r.failures:
            n += 1
            head = Text(f"{n}. [{f.service}] {f.operation} ", style="bold")
            head.append(f"{f.check}", style="bold red")
            head.append(f" {f.code} {f.title}".rstrip())
            if r.name == FORBIDDEN:
                head.append("  (as a user without the operation's x-roles)", style="yellow")
            lines = f.message.strip().splitlines()
            if len(lines) > MAX_MESSAGE_LINES:
                lines = [*lines[:MAX_MESSAGE_LINES], "..."]
            body = Text("\n".join("    " + line for line in lines))
            out.append(Group(head, body, Text("    reproduce: ", style="dim") + Text(f.curl)))
        for e in r.errors:
            n += 1
            out.append(
                Text(
                    f"{n}. [{e.service}] {e.operation or '-'} ERROR ({r.name} pass): {e.message}",
                    style="red",
                )
            )
        if r.exit_code != 0 and not (r.failures or r.errors or r.warnings):
            n += 1
            out.append(
                Text(
                    f"{n}. Schemathesis reported a problem in the {r.name} pass that unispec "
                    f"could not attribute; its output ends with:\n{r.log_tail}",
                    style="red",
                )
            )
        for warning, ops in r.warnings.items():
            n += 1
            out.append(
                Text(
                    f"{n}. warning {warning} fails the run ({r.name} pass): " + ", ".join(ops),
                    style="red",
                )
            )
    return out


def junit_xml(plan: FuzzPlan, results: Sequence[PassResult], seed: int) -> bytes:
    """JUnit XML: a suite per service, a case per operation and check (and pass).

    CI systems show one line per test case; "GET /courses/{id} ::
    response_schema_conformance" failing says what broke without opening the log.
    """
    by_label = plan.by_label()
    root = ET.Element("testsuites", name="unispec fuzz")
    suites: dict[str, ET.Element] = {}
    counts: dict[str, dict[str, int]] = {}

    def suite(service: str) -> ET.Element:
        if service not in suites:
            suites[service] = ET.Element("testsuite", name=f"fuzz.{service}")
            counts[service] = {"tests": 0, "failures": 0, "errors": 0}
        return suites[service]

    def case(service: str, name: str) -> ET.Element:
        el = ET.SubElement(suite(service), "testcase", classname=f"fuzz.{service}", name=name)
        counts[service]["tests"] += 1
        return el

    for r in results:
        suffix = " [forbidden role]" if r.name == FORBIDDEN else ""
        failures_by: dict[tuple[str, str], list[Failure]] = {}
        for f in r.failures:
            failures_by.setdefault((f.operation, f.check), []).append(f)
        keys = set(r.collector.operation_tally) | set(failures_by)
        for operation, check in sorted(keys):
            target = by_label.get(operation)
            service = target.service if target else "-"
            el = case(service, f"{operation} :: {check}{suffix}")
            for f in failures_by.get((operation, check), []):
                fe = ET.SubElement(el, "failure", type=f.code or check, message=f.title)
                fe.text = f"{f.message}\n\nReproduce with:\n\n    {f.curl}\n"
                counts[service]["failures"] += 1
        for e in r.errors:
            el = case(e.service, f"{e.operation or 'run'} :: error{suffix}")
            ee = ET.SubElement(el, "error", message=e.message.splitlines()[0] if e.message else "")
            ee.text = e.message
            counts[e.service]["errors"] += 1
        for warning, ops in r.warnings.items():
            for op in ops:
                target = by_label.get(op)
                service = target.service if target else "-"
                el = case(service, f"{op} :: warning {warning}{suffix}")
                fe = ET.SubElement(el, "failure", type=warning, message=f"warning {warning}")
                fe.text = _WARNING_TEXT.get(warning, warning)
                counts[service]["failures"] += 1
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for service in sorted(suites):
        el = suites[service]
        for k, v in counts[service].items():
            el.set(k, str(v))
            totals[k] += v
        root.append(el)
    for k, v in totals.items():
        root.set(k, str(v))
    props = ET.Element("properties")
    ET.SubElement(props, "property", name="seed", value=str(seed))
    for el in suites.values():
        el.insert(0, ET.fromstring(ET.tostring(props)))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


_WARNING_TEXT = {
    "missing_auth": (
        "Every call to this secured operation was refused with 401/403: the fuzzer's "
        "development token was not accepted, so nothing behind authentication was tested. "
        "Check gateway.auth.jwt (secret, issuer, audience, claim names) against the target."
    ),
    "rate_limited": (
        "Most calls were answered 429: the target throttles the fuzzer, so the run tested "
        "the rate limiter only. Raise the limits for fuzzing (fuzz.rate_limit_multiplier "
        "applies to the stack unispec starts itself)."
    ),
}


def failed_operations(results: Iterable[PassResult]) -> list[str]:
    return sorted({f.operation for r in results for f in r.failures})
