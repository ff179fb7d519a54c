from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PeerStatus(_message.Message):
    __slots__ = ("address", "device_id", "state", "last_success_ms", "last_attempt_ms", "last_error", "failures", "source", "records_behind")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESS_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_BEHIND_FIELD_NUMBER: _ClassVar[int]
    address: str
    device_id: str
    state: str
    last_success_ms: int
    last_attempt_ms: int
    last_error: str
    failures: int
    source: str
    records_behind: int
    def __init__(self, address: _Optional[str] = ..., device_id: _Optional[str] = ..., state: _Optional[str] = ..., last_success_ms: _Optional[int] = ..., last_attempt_ms: _Optional[int] = ..., last_error: _Optional[str] = ..., failures: _Optional[int] = ..., source: _Optional[str] = ..., records_behind: _Optional[int] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("device_id", "epoch", "boot_id", "listen", "version", "started_ms", "peers", "mdns", "records", "transport")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    LISTEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    MDNS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    epoch: int
    boot_id: str
    listen: str
    version: str
    started_ms: int
    peers: _containers.RepeatedCompositeFieldContainer[PeerStatus]
    mdns: bool
    records: int
    transport: str
    def __init__(self, device_id: _Optional[str] = ..., epoch: _Optional[int] = ..., boot_id: _Optional[str] = ..., listen: _Optional[str] = ..., version: _Optional[str] = ..., started_ms: _Optional[int] = ..., peers: _Optional[_Iterable[_Union[PeerStatus, _Mapping]]] = ..., mdns: _Optional[bool] = ..., records: _Optional[int] = ..., transport: _Optional[str] = ...) -> None: ...

class SyncNowRequest(_message.Message):
    __slots__ = ("peer", "timeout_seconds")
    PEER_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    peer: str
    timeout_seconds: float
    def __init__(self, peer: _Optional[str] = ..., timeout_seconds: _Optional[float] = ...) -> None: ...

class PeerSyncResult(_message.Message):
    __slots__ = ("address", "device_id", "ok", "error", "records_pulled", "seconds")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RECORDS_PULLED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    address: str
    device_id: str
    ok: bool
    error: str
    records_pulled: int
    seconds: float
    def __init__(self, address: _Optional[str] = ..., device_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., records_pulled: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class SyncNowResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PeerSyncResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PeerSyncResult, _Mapping]]] = ...) -> None: ...

class ForgetRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("dropped",)
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    dropped: int
    def __init__(self, dropped: _Optional[int] = ...) -> None: ...
