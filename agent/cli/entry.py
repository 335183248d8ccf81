"""The `mllens` console script: the smallest possible module, so a Ctrl-C that arrives while
the CLI's modules are still importing (a second or so) ends in one line, like one that arrives
later, instead of a traceback."""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    try:
        from agent.cli.main import main as run

        run()
    except KeyboardInterrupt:
        # Nothing was started yet (a scan handles its own interruption and exits by itself).
        print("mllens: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
