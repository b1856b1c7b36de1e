"""Passwords and tokens: from an environment variable or a file, never from the config."""

from __future__ import annotations

import os
from pathlib import Path

from bshm.delivery.errors import DeliveryFailure


def read_secret(env: str | None, file: Path | None, what: str) -> str | None:
    """The secret named by ``env`` (an environment variable) or ``file`` (first line).

    Returns None when neither is configured.

    Raises
    ------
    DeliveryFailure
        The variable is not set or the file cannot be read (not retried:
        a configuration problem).
    """
    if env:
        value = os.environ.get(env)
        if value is None:
            raise DeliveryFailure(f"{what}: environment variable {env} is not set", retry=False)
        return value
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise DeliveryFailure(
                f"{what}: cannot read {file} ({exc.strerror or exc})", retry=False
            ) from None
        lines = text.splitlines()
        return lines[0].strip() if lines else ""
    return None
