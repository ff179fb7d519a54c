from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_KIND_UNSPECIFIED: _ClassVar[ReportKind]
    REPORT_KIND_DAILY: _ClassVar[ReportKind]
    REPORT_KIND_WEEKLY: _ClassVar[ReportKind]
    REPORT_KIND_MONTHLY: _ClassVar[ReportKind]
    REPORT_KIND_SESSION: _ClassVar[ReportKind]
    REPORT_KIND_PROJECTS: _ClassVar[ReportKind]

class Order(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_UNSPECIFIED: _ClassVar[Order]
    ORDER_ASC: _ClassVar[Order]
    ORDER_DESC: _ClassVar[Order]

class CostMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COST_MODE_UNSPECIFIED: _ClassVar[CostMode]
    COST_MODE_AUTO: _ClassVar[CostMode]
    COST_MODE_CALCULATE: _ClassVar[CostMode]
    COST_MODE_DISPLAY: _ClassVar[CostMode]

class WatchTopic(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WATCH_TOPIC_UNSPECIFIED: _ClassVar[WatchTopic]
    WATCH_TOPIC_USAGE: _ClassVar[WatchTopic]
    WATCH_TOPIC_BLOCKS: _ClassVar[WatchTopic]
    WATCH_TOPIC_RECORDS: _ClassVar[WatchTopic]

class BlockChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOCK_CHANGE_UNSPECIFIED: _ClassVar[BlockChange]
    BLOCK_CHANGE_STARTED: _ClassVar[BlockChange]
    BLOCK_CHANGE_UPDATED: _ClassVar[BlockChange]
    BLOCK_CHANGE_ENDED: _ClassVar[BlockChange]
REPORT_KIND_UNSPECIFIED: ReportKind
REPORT_KIND_DAILY: ReportKind
REPORT_KIND_WEEKLY: ReportKind
REPORT_KIND_MONTHLY: ReportKind
REPORT_KIND_SESSION: ReportKind
REPORT_KIND_PROJECTS: ReportKind
ORDER_UNSPECIFIED: Order
ORDER_ASC: Order
ORDER_DESC: Order
COST_MODE_UNSPECIFIED: CostMode
COST_MODE_AUTO: CostMode
COST_MODE_CALCULATE: CostMode
COST_MODE_DISPLAY: CostMode
WATCH_TOPIC_UNSPECIFIED: WatchTopic
WATCH_TOPIC_USAGE: WatchTopic
WATCH_TOPIC_BLOCKS: WatchTopic
WATCH_TOPIC_RECORDS: WatchTopic
BLOCK_CHANGE_UNSPECIFIED: BlockChange
BLOCK_CHANGE_STARTED: BlockChange
BLOCK_CHANGE_UPDATED: BlockChange
BLOCK_CHANGE_ENDED: BlockChange

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
    __slots__ = ("device_id", "purge", "device")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PURGE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    purge: bool
    device: str
    def __init__(self, device_id: _Optional[str] = ..., purge: _Optional[bool] = ..., device: _Optional[str] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("dropped", "device_id", "appended")
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPENDED_FIELD_NUMBER: _ClassVar[int]
    dropped: int
    device_id: str
    appended: bool
    def __init__(self, dropped: _Optional[int] = ..., device_id: _Optional[str] = ..., appended: _Optional[bool] = ...) -> None: ...

class ReportFilter(_message.Message):
    __slots__ = ("since", "until", "timezone", "order", "mode", "devices", "provider")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    since: str
    until: str
    timezone: str
    order: Order
    mode: CostMode
    devices: _containers.RepeatedScalarFieldContainer[str]
    provider: str
    def __init__(self, since: _Optional[str] = ..., until: _Optional[str] = ..., timezone: _Optional[str] = ..., order: _Optional[_Union[Order, str]] = ..., mode: _Optional[_Union[CostMode, str]] = ..., devices: _Optional[_Iterable[str]] = ..., provider: _Optional[str] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("kind", "filter", "project", "session_id", "start_of_week", "breakdown", "by_device", "include_json")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    START_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    BY_DEVICE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_JSON_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    filter: ReportFilter
    project: str
    session_id: str
    start_of_week: str
    breakdown: bool
    by_device: bool
    include_json: bool
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., project: _Optional[str] = ..., session_id: _Optional[str] = ..., start_of_week: _Optional[str] = ..., breakdown: _Optional[bool] = ..., by_device: _Optional[bool] = ..., include_json: _Optional[bool] = ...) -> None: ...

class ModelBreakdown(_message.Message):
    __slots__ = ("model_name", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "cost", "provider")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost: float
    provider: str
    def __init__(self, model_name: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cost: _Optional[float] = ..., provider: _Optional[str] = ...) -> None: ...

class DeviceUsage(_message.Message):
    __slots__ = ("device", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens", "total_cost")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    device: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    total_cost: float
    def __init__(self, device: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., total_cost: _Optional[float] = ...) -> None: ...

class ProviderUsage(_message.Message):
    __slots__ = ("provider", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens", "total_cost")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    provider: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    total_cost: float
    def __init__(self, provider: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., total_cost: _Optional[float] = ...) -> None: ...

class ReportRow(_message.Message):
    __slots__ = ("key", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens", "total_cost", "models_used", "model_breakdowns", "devices", "providers", "project", "first_activity", "last_activity", "sessions")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    MODELS_USED_FIELD_NUMBER: _ClassVar[int]
    MODEL_BREAKDOWNS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FIRST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    key: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    total_cost: float
    models_used: _containers.RepeatedScalarFieldContainer[str]
    model_breakdowns: _containers.RepeatedCompositeFieldContainer[ModelBreakdown]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceUsage]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderUsage]
    project: str
    first_activity: str
    last_activity: str
    sessions: int
    def __init__(self, key: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., total_cost: _Optional[float] = ..., models_used: _Optional[_Iterable[str]] = ..., model_breakdowns: _Optional[_Iterable[_Union[ModelBreakdown, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceUsage, _Mapping]]] = ..., providers: _Optional[_Iterable[_Union[ProviderUsage, _Mapping]]] = ..., project: _Optional[str] = ..., first_activity: _Optional[str] = ..., last_activity: _Optional[str] = ..., sessions: _Optional[int] = ...) -> None: ...

class Totals(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens", "total_cost")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    total_cost: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., total_cost: _Optional[float] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("kind", "rows", "totals", "json")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    rows: _containers.RepeatedCompositeFieldContainer[ReportRow]
    totals: Totals
    json: str
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., rows: _Optional[_Iterable[_Union[ReportRow, _Mapping]]] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ..., json: _Optional[str] = ...) -> None: ...

class BlocksRequest(_message.Message):
    __slots__ = ("filter", "active", "recent", "token_limit", "token_limit_max", "session_length_hours", "by_device", "include_json")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIMIT_MAX_FIELD_NUMBER: _ClassVar[int]
    SESSION_LENGTH_HOURS_FIELD_NUMBER: _ClassVar[int]
    BY_DEVICE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_JSON_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    active: bool
    recent: bool
    token_limit: int
    token_limit_max: bool
    session_length_hours: float
    by_device: bool
    include_json: bool
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., active: _Optional[bool] = ..., recent: _Optional[bool] = ..., token_limit: _Optional[int] = ..., token_limit_max: _Optional[bool] = ..., session_length_hours: _Optional[float] = ..., by_device: _Optional[bool] = ..., include_json: _Optional[bool] = ...) -> None: ...

class BurnRate(_message.Message):
    __slots__ = ("tokens_per_minute", "tokens_per_minute_for_indicator", "cost_per_hour")
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FOR_INDICATOR_FIELD_NUMBER: _ClassVar[int]
    COST_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    tokens_per_minute: float
    tokens_per_minute_for_indicator: float
    cost_per_hour: float
    def __init__(self, tokens_per_minute: _Optional[float] = ..., tokens_per_minute_for_indicator: _Optional[float] = ..., cost_per_hour: _Optional[float] = ...) -> None: ...

class Projection(_message.Message):
    __slots__ = ("total_tokens", "total_cost", "remaining_minutes")
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    REMAINING_MINUTES_FIELD_NUMBER: _ClassVar[int]
    total_tokens: int
    total_cost: float
    remaining_minutes: int
    def __init__(self, total_tokens: _Optional[int] = ..., total_cost: _Optional[float] = ..., remaining_minutes: _Optional[int] = ...) -> None: ...

class TokenLimitStatus(_message.Message):
    __slots__ = ("limit", "projected_usage", "percent_used", "status")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_USAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_USED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    limit: int
    projected_usage: int
    percent_used: float
    status: str
    def __init__(self, limit: _Optional[int] = ..., projected_usage: _Optional[int] = ..., percent_used: _Optional[float] = ..., status: _Optional[str] = ...) -> None: ...

class BlockDevice(_message.Message):
    __slots__ = ("device", "entries", "total_tokens", "cost_usd", "share", "first_entry", "last_entry")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    FIRST_ENTRY_FIELD_NUMBER: _ClassVar[int]
    LAST_ENTRY_FIELD_NUMBER: _ClassVar[int]
    device: str
    entries: int
    total_tokens: int
    cost_usd: float
    share: float
    first_entry: str
    last_entry: str
    def __init__(self, device: _Optional[str] = ..., entries: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., share: _Optional[float] = ..., first_entry: _Optional[str] = ..., last_entry: _Optional[str] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("id", "start_time", "end_time", "actual_end_time", "is_active", "is_gap", "entries", "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "total_tokens", "cost_usd", "models", "burn_rate", "projection", "token_limit_status", "usage_limit_reset_time", "devices", "overlap")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_END_TIME_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    IS_GAP_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    BURN_RATE_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIMIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    USAGE_LIMIT_RESET_TIME_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    id: str
    start_time: str
    end_time: str
    actual_end_time: str
    is_active: bool
    is_gap: bool
    entries: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    total_tokens: int
    cost_usd: float
    models: _containers.RepeatedScalarFieldContainer[str]
    burn_rate: BurnRate
    projection: Projection
    token_limit_status: TokenLimitStatus
    usage_limit_reset_time: str
    devices: _containers.RepeatedCompositeFieldContainer[BlockDevice]
    overlap: bool
    def __init__(self, id: _Optional[str] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ..., actual_end_time: _Optional[str] = ..., is_active: _Optional[bool] = ..., is_gap: _Optional[bool] = ..., entries: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_input_tokens: _Optional[int] = ..., cache_read_input_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., models: _Optional[_Iterable[str]] = ..., burn_rate: _Optional[_Union[BurnRate, _Mapping]] = ..., projection: _Optional[_Union[Projection, _Mapping]] = ..., token_limit_status: _Optional[_Union[TokenLimitStatus, _Mapping]] = ..., usage_limit_reset_time: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[BlockDevice, _Mapping]]] = ..., overlap: _Optional[bool] = ...) -> None: ...

class BlocksResponse(_message.Message):
    __slots__ = ("blocks", "json")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[Block]
    json: str
    def __init__(self, blocks: _Optional[_Iterable[_Union[Block, _Mapping]]] = ..., json: _Optional[str] = ...) -> None: ...

class DevicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Device(_message.Message):
    __slots__ = ("name", "device_id", "self", "forgotten", "state", "address", "last_seen", "last_activity", "records", "epochs", "records_behind", "last_error", "host", "os", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SELF_FIELD_NUMBER: _ClassVar[int]
    FORGOTTEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_BEHIND_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    device_id: str
    self: bool
    forgotten: bool
    state: str
    address: str
    last_seen: str
    last_activity: str
    records: int
    epochs: int
    records_behind: int
    last_error: str
    host: str
    os: str
    version: str
    def __init__(self_, name: _Optional[str] = ..., device_id: _Optional[str] = ..., self: _Optional[bool] = ..., forgotten: _Optional[bool] = ..., state: _Optional[str] = ..., address: _Optional[str] = ..., last_seen: _Optional[str] = ..., last_activity: _Optional[str] = ..., records: _Optional[int] = ..., epochs: _Optional[int] = ..., records_behind: _Optional[int] = ..., last_error: _Optional[str] = ..., host: _Optional[str] = ..., os: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class DevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ...) -> None: ...

class LogPosition(_message.Message):
    __slots__ = ("origin", "epoch", "seq")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    origin: str
    epoch: int
    seq: int
    def __init__(self, origin: _Optional[str] = ..., epoch: _Optional[int] = ..., seq: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("topics", "after", "from_start", "devices", "provider", "mode", "session_length_hours")
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    FROM_START_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_LENGTH_HOURS_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedScalarFieldContainer[WatchTopic]
    after: _containers.RepeatedCompositeFieldContainer[LogPosition]
    from_start: bool
    devices: _containers.RepeatedScalarFieldContainer[str]
    provider: str
    mode: CostMode
    session_length_hours: float
    def __init__(self, topics: _Optional[_Iterable[_Union[WatchTopic, str]]] = ..., after: _Optional[_Iterable[_Union[LogPosition, _Mapping]]] = ..., from_start: _Optional[bool] = ..., devices: _Optional[_Iterable[str]] = ..., provider: _Optional[str] = ..., mode: _Optional[_Union[CostMode, str]] = ..., session_length_hours: _Optional[float] = ...) -> None: ...

class WatchStarted(_message.Message):
    __slots__ = ("device_id", "vector", "active_block")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_BLOCK_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    vector: _containers.RepeatedCompositeFieldContainer[LogPosition]
    active_block: Block
    def __init__(self, device_id: _Optional[str] = ..., vector: _Optional[_Iterable[_Union[LogPosition, _Mapping]]] = ..., active_block: _Optional[_Union[Block, _Mapping]] = ...) -> None: ...

class UsageEvent(_message.Message):
    __slots__ = ("position", "device", "timestamp_ms", "timestamp", "provider", "model", "project", "session_id", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "reasoning_tokens", "total_tokens", "cost", "message_id", "request_id", "sidechain")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIDECHAIN_FIELD_NUMBER: _ClassVar[int]
    position: LogPosition
    device: str
    timestamp_ms: int
    timestamp: str
    provider: str
    model: str
    project: str
    session_id: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost: float
    message_id: str
    request_id: str
    sidechain: bool
    def __init__(self, position: _Optional[_Union[LogPosition, _Mapping]] = ..., device: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., timestamp: _Optional[str] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., project: _Optional[str] = ..., session_id: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost: _Optional[float] = ..., message_id: _Optional[str] = ..., request_id: _Optional[str] = ..., sidechain: _Optional[bool] = ...) -> None: ...

class BlockEvent(_message.Message):
    __slots__ = ("change", "block")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    change: BlockChange
    block: Block
    def __init__(self, change: _Optional[_Union[BlockChange, str]] = ..., block: _Optional[_Union[Block, _Mapping]] = ...) -> None: ...

class RecordEvent(_message.Message):
    __slots__ = ("position", "kind", "device", "body_json")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    position: LogPosition
    kind: str
    device: str
    body_json: str
    def __init__(self, position: _Optional[_Union[LogPosition, _Mapping]] = ..., kind: _Optional[str] = ..., device: _Optional[str] = ..., body_json: _Optional[str] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("started", "usage", "block", "record")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    started: WatchStarted
    usage: UsageEvent
    block: BlockEvent
    record: RecordEvent
    def __init__(self, started: _Optional[_Union[WatchStarted, _Mapping]] = ..., usage: _Optional[_Union[UsageEvent, _Mapping]] = ..., block: _Optional[_Union[BlockEvent, _Mapping]] = ..., record: _Optional[_Union[RecordEvent, _Mapping]] = ...) -> None: ...
