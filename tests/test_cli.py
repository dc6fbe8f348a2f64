"""The CLI's last line of defence: an unforeseen exception is one line, without any password."""

from __future__ import annotations

import argparse

import pytest

from seqsweep import cli


def test_unexpected_exception_is_one_line_without_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("cannot reach mysql+pymysql://analyst:hunter2@db:3306/crypto\nsecond line")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=boom, verbose=False))
    assert cli.main([]) == cli.EXIT_UNEXPECTED
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "hunter2" not in err and "analyst:***@db" in err
