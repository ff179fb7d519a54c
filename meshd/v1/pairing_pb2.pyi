from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinMessage(_message.Message):
    __slots__ = ("start", "challenge", "finish", "welcome")
    START_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    start: Start
    challenge: Challenge
    finish: Finish
    welcome: Welcome
    def __init__(self, start: _Optional[_Union[Start, _Mapping]] = ..., challenge: _Optional[_Union[Challenge, _Mapping]] = ..., finish: _Optional[_Union[Finish, _Mapping]] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ...) -> None: ...

class Start(_message.Message):
    __slots__ = ("version", "code_id", "pake")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CODE_ID_FIELD_NUMBER: _ClassVar[int]
    PAKE_FIELD_NUMBER: _ClassVar[int]
    version: int
    code_id: str
    pake: bytes
    def __init__(self, version: _Optional[int] = ..., code_id: _Optional[str] = ..., pake: _Optional[bytes] = ...) -> None: ...

class Challenge(_message.Message):
    __slots__ = ("pake",)
    PAKE_FIELD_NUMBER: _ClassVar[int]
    pake: bytes
    def __init__(self, pake: _Optional[bytes] = ...) -> None: ...

class Finish(_message.Message):
    __slots__ = ("confirm", "nonce", "sealed_csr")
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SEALED_CSR_FIELD_NUMBER: _ClassVar[int]
    confirm: bytes
    nonce: bytes
    sealed_csr: bytes
    def __init__(self, confirm: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., sealed_csr: _Optional[bytes] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("confirm", "nonce", "sealed_grant")
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SEALED_GRANT_FIELD_NUMBER: _ClassVar[int]
    confirm: bytes
    nonce: bytes
    sealed_grant: bytes
    def __init__(self, confirm: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., sealed_grant: _Optional[bytes] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("device_cert", "ca_cert", "revoked", "inviter_id", "mesh_fingerprint")
    DEVICE_CERT_FIELD_NUMBER: _ClassVar[int]
    CA_CERT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    INVITER_ID_FIELD_NUMBER: _ClassVar[int]
    MESH_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    device_cert: bytes
    ca_cert: bytes
    revoked: _containers.RepeatedScalarFieldContainer[str]
    inviter_id: str
    mesh_fingerprint: str
    def __init__(self, device_cert: _Optional[bytes] = ..., ca_cert: _Optional[bytes] = ..., revoked: _Optional[_Iterable[str]] = ..., inviter_id: _Optional[str] = ..., mesh_fingerprint: _Optional[str] = ...) -> None: ...
