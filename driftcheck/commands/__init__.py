"""One module per `driftcheck` command: its typed options and the function the CLI calls.

Each function prints its own stdout lines, sends progress to the `progress` it is given and returns
the process exit code; the codes are the same for every command.
"""

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
