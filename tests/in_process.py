"""The tfopt command line run in the test's own process: it refuses bad input before any child
starts, so tests of its refusals need no subprocess."""

import signal

from tfopt import cli


def tfopt(argv) -> int:
    """``tfopt argv`` in this process; its exit code (the signal handlers it sets are undone)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse refuses a bad flag this way
        return exit_.code
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
