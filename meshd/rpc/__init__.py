"""The gRPC adapters: credentials (creds), domain <-> protobuf (convert), the peer service and
client (peer), the local service over the Unix socket (local). Protobuf types stop here."""
