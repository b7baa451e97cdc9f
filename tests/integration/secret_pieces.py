"""What "a secret leaked" means for the tests: the secret, its percent-encoded form, or
any 4-character piece of either, anywhere in a page, a header or a log line."""

from __future__ import annotations

import urllib.parse


def forbidden_pieces(*secrets: str) -> list[str]:
    """Each secret, its percent-encoded form and every 4-character piece of
    both (a host name made of the password's tail shows the encoded form)."""
    pieces = set()
    for secret in secrets:
        for form in (secret, urllib.parse.quote(secret, safe="")):
            pieces.add(form)
            pieces.update(form[i:i + 4] for i in range(len(form) - 3))
    return sorted(pieces, key=len, reverse=True)


def leaks(text: str, pieces: list[str]) -> list[str]:
    """The lines of `text` that hold a forbidden piece (ignoring case)."""
    found = []
    for line in text.splitlines():
        lower = line.lower()
        hits = [piece for piece in pieces if piece.lower() in lower]
        if hits:
            found.append(f"{hits[0]!r} in {line[:300]!r}")
    return found
