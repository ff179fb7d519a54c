from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Hello(_message.Message):
    __slots__ = ("device_id", "epoch", "protocol_version", "boot_id", "listen_port", "vector_digest")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    LISTEN_PORT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_DIGEST_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    epoch: int
    protocol_version: int
    boot_id: str
    listen_port: int
    vector_digest: bytes
    def __init__(self, device_id: _Optional[str] = ..., epoch: _Optional[int] = ..., protocol_version: _Optional[int] = ..., boot_id: _Optional[str] = ..., listen_port: _Optional[int] = ..., vector_digest: _Optional[bytes] = ...) -> None: ...

class HandshakeRequest(_message.Message):
    __slots__ = ("hello",)
    HELLO_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("hello", "held_of_you")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HELD_OF_YOU_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    held_of_you: int
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., held_of_you: _Optional[int] = ...) -> None: ...

class VectorEntry(_message.Message):
    __slots__ = ("origin", "epoch", "max_seq")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_FIELD_NUMBER: _ClassVar[int]
    origin: str
    epoch: int
    max_seq: int
    def __init__(self, origin: _Optional[str] = ..., epoch: _Optional[int] = ..., max_seq: _Optional[int] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("vector", "max_records")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    MAX_RECORDS_FIELD_NUMBER: _ClassVar[int]
    vector: _containers.RepeatedCompositeFieldContainer[VectorEntry]
    max_records: int
    def __init__(self, vector: _Optional[_Iterable[_Union[VectorEntry, _Mapping]]] = ..., max_records: _Optional[int] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("seq", "kind", "body")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: str
    body: bytes
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[str] = ..., body: _Optional[bytes] = ...) -> None: ...

class PullResponse(_message.Message):
    __slots__ = ("origin", "epoch", "prev_seq", "last_seq", "records")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PREV_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    origin: str
    epoch: int
    prev_seq: int
    last_seq: int
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, origin: _Optional[str] = ..., epoch: _Optional[int] = ..., prev_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class NotifyRequest(_message.Message):
    __slots__ = ("hello", "vector")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    vector: _containers.RepeatedCompositeFieldContainer[VectorEntry]
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., vector: _Optional[_Iterable[_Union[VectorEntry, _Mapping]]] = ...) -> None: ...

class NotifyResponse(_message.Message):
    __slots__ = ("will_pull",)
    WILL_PULL_FIELD_NUMBER: _ClassVar[int]
    will_pull: bool
    def __init__(self, will_pull: _Optional[bool] = ...) -> None: ...
