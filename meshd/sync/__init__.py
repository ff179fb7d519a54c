"""Replication between daemons: anti-entropy gossip over per-device logs (DESIGN §4).

- `gossip.py`: one push-pull round with a peer through the `PeerClient` protocol, and the server
  side of the same protocol. Pure of grpc and zeroconf.
- `peers.py`: the peer table (addresses, state, backoff with jitter); time is a parameter.
- `discovery.py`: mDNS advertise and browse (`_meshd._tcp.local.`); addresses are hints only.

The protocol: the caller sends a Hello (device id, epoch, protocol version, boot id) and learns
how much of its own current log the callee holds — more than the caller holds means the caller's
database was restored from a backup, and it starts a new epoch before appending anything. Then
the caller sends its version vector and the callee streams, per log in ascending seq, every batch
the caller lacks, third devices' logs included. A batch whose prev_seq does not match what the
caller holds is dropped and that log pulled again. Finally the caller notifies the callee, which
pulls from the caller if it lacks anything.
"""
