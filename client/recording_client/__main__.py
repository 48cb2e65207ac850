"""The `clone-recording` script: the hook command's fast path, else the whole command line.

`hook claude-code` runs on every hook of an agent, so it is dispatched before typer, rich
and httpx are imported (each costs tens of milliseconds).
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:3] == ["hook", "claude-code"] and "--help" not in sys.argv:
        from recording_client import hook

        sys.exit(hook.run(sys.argv[3:]))
    from recording_client import cli

    cli.main()


if __name__ == "__main__":
    main()
