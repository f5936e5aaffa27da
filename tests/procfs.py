"""What /proc says about processes, for tests that check nothing is left running."""

from pathlib import Path


def _stat_fields(pid: int | str) -> list[str]:
    """The fields after the command name (which may hold spaces and parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def is_running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = _stat_fields(pid)[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """The live (or unreaped) child processes of ``pid``."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(entry.name)[1])
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if parent == pid:
            children.append(int(entry.name))
    return children
