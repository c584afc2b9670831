"""Where `rampart login` keeps the operator's tokens: one JSON file, mode 0600, under the user's
config directory (``$XDG_CONFIG_HOME/rampart/credentials.json``, else ``~/.config/...``).

No keyring library is in the lock, so the file is the only store. It is written atomically
(a new 0600 file renamed over the old one) and refused when anyone but its owner may read or
write it, when it is a symlink, or when another user owns it: the token in it acts as a person.
Standard library only, so commands that load it stay fast.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
DIR_MODE = 0o700


class CredentialsRefused(Exception):
    """The stored login cannot be used; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class StoredLogin:
    """A login as the CLI keeps it (the tokens are never printed or logged)."""

    server: str
    client_id: str
    token_endpoint: str
    revocation_endpoint: str
    userinfo_endpoint: str
    access_token: str
    expires_at: float  # epoch seconds
    refresh_token: str | None = None
    scope: str = ""

    def __repr__(self) -> str:  # never the tokens, whatever formats this object
        return f"StoredLogin(server={self.server!r}, expires_at={self.expires_at!r})"


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rampart" / "credentials.json"


def save_login(login: StoredLogin) -> Path:
    path = credentials_path()
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(asdict(login), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return path


def load_login() -> StoredLogin | None:
    """The stored login, or None when there is none; CredentialsRefused when it is unsafe."""
    path = credentials_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink
        raise CredentialsRefused(f"{path} cannot be read safely ({exc.strerror})") from None
    with os.fdopen(fd, encoding="utf-8") as stream:
        info = os.fstat(stream.fileno())
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            raise CredentialsRefused(f"{path} is not a file of yours: delete it, then log in")
        if mode & 0o077:
            raise CredentialsRefused(
                f"{path} has mode {mode:04o}, others may read it: it must be 0600 "
                "(delete it and run `rampart login` again)"
            )
        try:
            data: dict[str, Any] = json.load(stream)
            return StoredLogin(**data)
        except (ValueError, TypeError):
            raise CredentialsRefused(
                f"{path} is not a login of this version: delete it and run `rampart login`"
            ) from None


def delete_login() -> bool:
    path = credentials_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
