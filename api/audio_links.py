"""Short-lived signed links to a call's recording, for the console's player (issue 17).

An ``<audio>`` element cannot send the API key, and fetching the whole recording with the key
before playing does not scale to an hour-long showroom recording. So a caller who may see the
call asks for a link (``POST /v1/calls/{id}/audio-link``: the dealer scope is checked then), and
the player streams that link with HTTP range requests. The link carries its expiry and an
HMAC-SHA256 of the call id and the expiry under the server's secret: it opens that one call's
recording until then, and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class AudioLinks:
    """Signs and checks audio links with ``secret``; a link lives ``lifetime_s`` seconds."""

    secret: bytes = field(repr=False)
    lifetime_s: int

    def _signature(self, call_id: str, expires: int) -> str:
        message = f"{call_id}\n{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def sign(self, call_id: str, now: float | None = None) -> tuple[str, int]:
        """The link (a path with its query) to ``call_id``'s recording, and its expiry (Unix s)."""
        expires = int(now if now is not None else time.time()) + self.lifetime_s
        query = urlencode({"expires": expires, "signature": self._signature(call_id, expires)})
        return f"/v1/audio/{quote(call_id, safe='')}?{query}", expires

    def valid(self, call_id: str, expires: int, signature: str, now: float | None = None) -> bool:
        """Whether ``signature`` is this server's for ``call_id`` and ``expires``, not yet past."""
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._signature(call_id, expires), signature)
