"""What every command shares: the --project option, output consoles, error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from unispec.errors import UnispecError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Folder holding unispec.yaml (default: the current folder or its nearest parent).",
        file_okay=False,
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a user mistake (UnispecError) into its message and exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UnispecError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


def report_error(exc: UnispecError) -> None:
    err.print(f"[bold red]error:[/] {escape(exc.message)}")
    for problem in exc.problems:
        err.print(f"  {escape(str(problem))}")


def escape(text: Any) -> str:
    from rich.markup import escape as _escape

    return _escape(str(text))


def is_tty() -> bool:
    return sys.stdout.isatty()
