"""URLs fit to show: the credentials a URL may carry (``user:password@`` or a token alone,
``TOKEN@``) masked, wherever batchtool prints, logs or stores a base URL or a proxy URL."""

from __future__ import annotations

from typing import Final

MASK: Final = "***"


def masked(url: str) -> str:
    """``url`` with everything before its host's ``@`` shown as ``***``.

    ``https://u:PASS@host:8443/x`` -> ``https://***@host:8443/x``, ``http://TOKEN@proxy`` ->
    ``http://***@proxy``; a URL without credentials is returned as it is. Works on the text,
    never parsing it, so a malformed URL is masked too and nothing raises; everything up to
    the last ``@`` counts as credentials (a password may hold ``@``, ``/`` or ``#``), which
    masks too much of the rare URL with an ``@`` in its path, never too little.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at == -1:
        return url
    return f"{scheme}{sep}{MASK}@{rest[at + 1 :]}"
