"""A systemd unit that runs `qwen-serve` as a service: the API key from a credentials file (LoadCredential, never
in the unit or a command line), readiness through sd_notify (qwen-serve sends READY=1 once a real generation has
succeeded, STOPPING=1 when it drains), Restart=on-failure, and a stop timeout longer than qwen-serve's own, so
that systemd never SIGKILLs a server that is still draining its requests."""

from __future__ import annotations

import os
import re
import shlex
import socket
import sys
from dataclasses import dataclass

CREDENTIAL = "api-key"
STOP_MARGIN_S = 15  # after qwen-serve's --stop-timeout: its own SIGKILL of SGLang, then its exit


@dataclass(frozen=True)
class Unit:
    serve_args: tuple[str, ...]  # qwen-serve's arguments as the user typed them (checked before the unit is written)
    description: str
    stop_timeout: float
    key_file: str | None = None  # where LoadCredential reads the API key from
    user: str | None = None
    working_directory: str | None = None
    python: str = sys.executable


def sd_notify(state: str) -> None:
    """systemd's notify protocol (Type=notify): one datagram to $NOTIFY_SOCKET; nothing without one."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            pass  # a notification is advice: serving goes on without it


USER_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]{0,30}\$?|[0-9]{1,10}")  # systemd's portable user names, or a uid


def checked(value: str, what: str) -> str:
    """Every value the unit holds passes here first: a line break or any control character would start a line of
    its own (an ExecStartPre= that runs as root) or be read otherwise by systemd; refused in one line."""
    from .errors import QwenServeError

    bad = next((c for c in value if not c.isprintable() or c in "\r\n"), None)
    if bad is not None:
        raise QwenServeError(
            f"{what}: {value[:60].encode('unicode_escape').decode()!r} holds {bad.encode('unicode_escape').decode()!r}",
            allowed="printable text without line breaks or control characters",
            fix=f"give {what} without it",
        )
    return value


def specifiers(value: str) -> str:
    """% doubled: systemd reads %h, %u, %d, … in most settings as its specifiers, not as the text written."""
    return value.replace("%", "%%")


def _quote(word: str, what: str = "an argument") -> str:
    """A word for ExecStart: systemd's own quoting (double quotes, \\ escapes, $ doubled: no variable expansion) and
    % doubled (its specifiers)."""
    word = specifiers(checked(word, what))
    if word and all(c.isalnum() or c in "-_./=:,+@" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$") + '"'


def _field(value: str, what: str, ok, why: str, allowed: str, fix: str) -> str:
    """A value of a setting systemd parses by its own rules: checked(), then `ok(value)`, else one line."""
    from .errors import QwenServeError

    if not ok(checked(value, what)):
        raise QwenServeError(f"{what}: {value[:60]!r} {why}", allowed=allowed, fix=fix)
    return value


def _absolute(path: str, what: str) -> str:
    return _field(
        path,
        what,
        lambda p: p.startswith("/") and ":" not in p,
        "is not an absolute path systemd reads here",
        "an absolute path without ':'",
        f"give {what} as /an/absolute/path",
    )


def _user(name: str) -> str:
    return _field(
        name,
        "--user",
        USER_NAME.fullmatch,
        "is not a user name systemd takes" + (" (an empty User= would run the service as root)" if not name else ""),
        "a name of letters, digits, _ and - starting with a letter or _, or a numeric uid",
        "pass the service account's name, e.g. --user qwen (or leave --user out for root)",
    )


def render(unit: Unit) -> str:
    """The unit as data (section -> key/value pairs, every value checked and escaped for its field), written out by
    `_write`: no unit line is assembled anywhere else."""
    args = list(unit.serve_args)
    if unit.key_file:  # %d: the unit's credentials directory; before `--`, after which all is SGLang's
        at = args.index("--") if "--" in args else len(args)
        args[at:at] = ["--api-key-file", "%d/" + CREDENTIAL]
    argv = [unit.python, "-m", "qwen_serve", *args]
    credential = "%d/" + CREDENTIAL  # the one specifier the unit means: the credentials directory
    exec_start = " ".join(a if a == credential else _quote(a, f"argument {a[:40]!r}") for a in argv)
    service = [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("ExecStart", exec_start),
        ("Restart", "on-failure"),
        ("RestartSec", "10"),
        # the first start downloads the weights (15-28 GB) before SGLang's own start: qwen-serve's --ready-timeout
        # bounds SGLang's start; the download is bounded by huggingface_hub's read timeouts
        ("TimeoutStartSec", "infinity"),
        ("TimeoutStopSec", str(int(unit.stop_timeout + STOP_MARGIN_S))),
        ("KillMode", "mixed"),  # SIGTERM to qwen-serve alone (it drains SGLang), SIGKILL to all at the timeout
        ("StateDirectory", "qwen-serve"),
        ("Environment", "HF_HOME=/var/lib/qwen-serve/huggingface XDG_CACHE_HOME=/var/lib/qwen-serve/cache"),
    ]
    if unit.key_file:
        service.append(("LoadCredential", f"{CREDENTIAL}:{specifiers(_absolute(unit.key_file, '--key-file'))}"))
    if unit.user is not None:
        service.append(("User", _user(unit.user)))
    if unit.working_directory:
        service.append(("WorkingDirectory", specifiers(_absolute(unit.working_directory, "--working-directory"))))
    comments = (
        "generated by `qwen-serve systemd` for: qwen-serve " + shlex.join(unit.serve_args),
        "install: sudo cp qwen-serve.service /etc/systemd/system/ && sudo systemctl daemon-reload "
        "&& sudo systemctl enable --now qwen-serve",
        "health: systemctl is-active qwen-serve (active = a real generation succeeded); journalctl -u qwen-serve",
    )
    sections = {
        "Unit": [
            ("Description", specifiers(checked(unit.description, "the description"))),
            ("After", "network-online.target"),
            ("Wants", "network-online.target"),
        ],
        "Service": service,
        "Install": [("WantedBy", "multi-user.target")],
    }
    return _write(comments, sections)


def _write(comments: tuple[str, ...], sections: dict[str, list[tuple[str, str]]]) -> str:
    """The one writer of unit text. Every value arrives escaped by its field's function; a line break or other
    control character here would add a line of its own, so it is refused again, whatever let it through."""
    from .errors import QwenServeError, control_character

    for text in (*comments, *(v for pairs in sections.values() for _, v in pairs)):
        if control_character(text) is not None:
            raise QwenServeError(
                f"a unit value holds a control character: {text[:60]!r}", fix="give the value without it"
            )
    lines = [f"# {c}" for c in comments]
    for name, pairs in sections.items():
        lines += [f"[{name}]", *(f"{key}={value}" for key, value in pairs), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
