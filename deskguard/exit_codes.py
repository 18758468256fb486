"""The process exit codes of every ``deskguard`` command (the CLI, headless mode and the app).

The one place they are defined; README and ``deskguard --help`` list the same values.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  #: clean stop (or a finished command)
    FAILURE = 1  #: could not start for another reason (gateway unreachable, state database unusable, …)
    BAD_CONFIG = 2  #: bad config.toml or arguments; the message names the file, key and problem
    AUTH_FAILED = 3  #: sign-in refused, or no credentials
    ALREADY_RUNNING = 4  #: another DeskGuard already guards this DESKGUARD_HOME; the message names its pid


#: For ``--help``: one line per code, in order.
EXIT_CODES_HELP = (
    "exit codes:\n"
    "  0  clean stop\n"
    "  1  could not start (gateway unreachable, state database unusable)\n"
    "  2  bad config or arguments (the message names the file, key and problem)\n"
    "  3  sign-in refused or no credentials\n"
    "  4  another DeskGuard already guards this DESKGUARD_HOME (the message names its pid)"
)
