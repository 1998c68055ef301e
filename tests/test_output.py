"""The output layer: one console factory (plain when piped or in CI) and the shared format options."""

from __future__ import annotations

import io
import subprocess
import sys

import click
from click.testing import CliRunner

from redisguard.cli.output import Output, output_options


def test_plain_console_when_not_a_terminal() -> None:
    buffer = io.StringIO()
    out = Output(stdout=buffer, stderr=io.StringIO(), stdout_is_terminal=False, colour=True)
    out.console().print("[bold red]styled[/] text")
    assert buffer.getvalue() == "styled text\n"  # no ANSI escapes in a pipe
    assert not out.progress_allowed


def test_ci_means_plain_even_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert Output.from_env({"CI": "true"}).stdout_is_terminal is False
    assert Output.from_env({}).stdout_is_terminal is True
    assert Output.from_env({"NO_COLOR": "1"}).colour is False


def test_output_options_are_exclusive_and_pass_fmt() -> None:
    @click.command()
    @output_options("json", "markdown", "csv")
    def show(fmt: str) -> None:
        click.echo(fmt)

    runner = CliRunner()
    assert runner.invoke(show, []).output == "terminal\n"
    assert runner.invoke(show, ["--csv"]).output == "csv\n"
    both = runner.invoke(show, ["--json", "--markdown"])
    assert both.exit_code == 2 and "exclusive" in both.output


def test_doctor_refuses_two_formats_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "redisguard", "doctor", "--from", "x.json", "--json",
                             "--markdown"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "exclusive" in result.stderr and "Traceback" not in result.stderr
