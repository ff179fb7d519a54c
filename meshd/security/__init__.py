"""Security: the mesh CA and device certificates (pki), pairing by one-time code (pairing),
mutual-TLS credentials and the peer interceptor (tls), test helpers (testing).

See docs/security.md for the threat model.
"""

from __future__ import annotations

from meshd.errors import ConfigError


class KeyMaterialError(ConfigError):
    """Keys or certificates in `<home>/tls/` are missing, unreadable, unsafe or inconsistent."""
