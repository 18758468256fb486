"""One exit-code enum for every ``deskguard`` command: what check-config and the simulator return."""

from __future__ import annotations

import socket

from deskguard.exit_codes import ExitCode


def test_check_config_returns_the_enum(tmp_path, capsys):
    from deskguard.cli import main
    from deskguard.config import check_config

    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text("[rules.daily_realized_loss]\nmax_loss = 400\n")
    bad.write_text("[rules.daily_realized_loss]\nmax_loss = -5\n")
    assert check_config(good) is ExitCode.OK
    assert check_config(bad) is ExitCode.BAD_CONFIG
    assert main(["check-config", str(bad)]) == ExitCode.BAD_CONFIG == 2
    assert "rules.daily_realized_loss.max_loss" in capsys.readouterr().err


def test_the_simulator_on_a_busy_port_fails_with_the_enum_and_names_the_port(capsys):
    from deskguard.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["simulator", "--port", str(port)]) == ExitCode.FAILURE == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
