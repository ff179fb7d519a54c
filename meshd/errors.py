"""One exception tree for meshd.

    MeshError
     ├── ConfigError          bad config file, option or environment
     ├── SourceError          a log source is missing or unreadable
     ├── StoreError           the replica database cannot be used
     │    └── LogRuleError    a record breaks the append-only log's rules
     │         ├── LogGapError     a batch does not start where the held log ends
     │         └── OwnLogAhead     a peer holds more of this device's current log (restored backup)
     ├── PricingError         a price table cannot be loaded
     ├── PeerError            a peer misbehaved or could not be reached
     │    ├── PeerUnavailable
     │    └── PeerRefused      a peer is ourselves, forgotten, or speaks another protocol version
     │         └── SelfPeer        the address leads to this very daemon
     ├── DaemonError          the local daemon is absent or refused a request
     └── PairingError         invite or join failed

The CLI turns any MeshError into a one-line message and a non-zero exit;
the RPC layer maps them to gRPC status codes.
"""

from __future__ import annotations


class MeshError(Exception):
    """Base class of every error meshd raises on purpose."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(MeshError):
    """A config file, option or environment variable is invalid."""


class SourceError(MeshError):
    """A usage-log source folder is missing or unreadable."""


class StoreError(MeshError):
    """The replica database cannot be opened or used."""


class LogRuleError(StoreError):
    """A record or batch breaks the append-only log's rules."""


class LogGapError(LogRuleError):
    """A batch's prev_seq does not match the seq held: dropped, and the log pulled again."""


class OwnLogAhead(LogRuleError):
    """A peer holds more of this device's current log than this device (a restored backup)."""


class PricingError(MeshError):
    """A price table cannot be loaded or parsed."""


class PeerError(MeshError):
    """A peer misbehaved or answered with an error."""


class PeerUnavailable(PeerError):
    """A peer could not be reached."""


class PeerRefused(PeerError):
    """A peer is this device itself, a forgotten device, or speaks another protocol version."""


class SelfPeer(PeerRefused):
    """The peer at an address is this device itself."""


class DaemonError(MeshError):
    """The local daemon is not running or refused a request."""


class PairingError(MeshError):
    """Creating, using or validating an invite code failed."""
