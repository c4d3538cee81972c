"""A bounded fuzz run of the whole demo: embedded stack, every phase and check, zero failures.

Runs ``unispec fuzz`` exactly as a user would (no ``--url``: the command starts
the gateway and the mock upstreams on free ports with raised rate limits and
stops them), with a fixed seed and few examples per operation so that it stays
well under three minutes.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from unispec.cli import app

ROOT = Path(__file__).resolve().parents[2]
SEED = "1"
MAX_EXAMPLES = "3"

KNOWN: dict[str, str] = {
    # "<testcase name in the JUnit report>": "why (entry in /work/brief/fuzz-findings.md)",
}
"""Failures found by the fuzzer whose fix belongs to another area, until they land.

The test fails on anything not listed here, and also when a listed failure no
longer happens (so the entry gets removed as soon as the fix lands).
"""


def test_demo_fuzz_has_zero_failures(tmp_path: Path) -> None:
    junit = tmp_path / "fuzz-demo.xml"
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        [
            "fuzz",
            "--project",
            str(ROOT),
            "--seed",
            SEED,
            "--max-examples",
            MAX_EXAMPLES,
            "--junit",
            str(junit),
        ],
    )
    elapsed = time.monotonic() - started
    assert "Rate limits raised ×" in result.output, result.output
    assert junit.is_file(), result.output
    root = ET.parse(junit).getroot()
    failing = {
        case.get("name") or ""
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    }
    unexpected = failing - set(KNOWN)
    assert not unexpected, result.output
    fixed = set(KNOWN) - failing
    assert not fixed, f"fixed meanwhile, remove from KNOWN: {sorted(fixed)}"
    assert result.exit_code == (1 if KNOWN else 0), result.output
    suites = {s.get("name") for s in root.iter("testsuite")}
    assert {
        "fuzz.auth",
        "fuzz.users",
        "fuzz.courses",
        "fuzz.chat",
        "fuzz.executions",
        "fuzz.files",
    } <= suites
    checks = {(c.get("name") or "").split(" :: ")[-1] for c in root.iter("testcase")}
    assert {"use_after_free", "ensure_resource_availability", "ignored_auth"} <= {
        c.removesuffix(" [forbidden role]") for c in checks
    }
    assert "forbidden role" in " ".join(c.get("name") or "" for c in root.iter("testcase"))
    # The bar is three minutes of wall time on the 2-core CI machine; when other jobs
    # share the cores (load well above the core count) wall time says nothing.
    if os.getloadavg()[0] <= 1.5 * (os.cpu_count() or 1):
        assert elapsed < 180, f"the bounded demo fuzz run took {elapsed:.0f} s"
