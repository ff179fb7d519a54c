"""Local-date bucketing in an IANA zone, --since/--until parsing and ccusage's instant format. Pure and fast.

Day keys are memoized per 15-minute UTC slot: every real zone offset since 1970 is a multiple of
15 minutes (+05:30, +05:45, +08:45 included) and transitions fall on such slots, so within a slot
the local date is constant. A slot whose offset changes inside it, or is not a multiple of
15 minutes (pre-1970 local mean time), is marked irregular and keyed per timestamp instead.
"""

from __future__ import annotations

import os
import re
import time
from datetime import date, datetime, timedelta, timezone, tzinfo

from meshd.errors import ConfigError

DAY_MS = 86_400_000
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_SLOT_MS = 900_000
_IRREGULAR = -1
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MAX_TZ_NAME = 128


class _SystemLocal(tzinfo):
    """The C library's local zone (honours a POSIX TZ string that is no IANA key)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        if dt.tzinfo is self:
            stamp = time.mktime((*dt.timetuple()[:8], -1))
        else:
            stamp = dt.replace(tzinfo=timezone.utc).timestamp()
        return timedelta(seconds=time.localtime(stamp).tm_gmtoff)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return time.tzname[0]

    def fromutc(self, dt: datetime) -> datetime:
        stamp = dt.replace(tzinfo=timezone.utc).timestamp()
        return dt + timedelta(seconds=time.localtime(stamp).tm_gmtoff)


def resolve_tz(name: str | None) -> tzinfo:
    """An IANA zone by name; None or "" means the system zone ($TZ first, then /etc/localtime)."""
    if not name:
        env = os.environ.get("TZ", "").lstrip(":")
        if env:
            zone = _zone_or_none(env)
            return zone if zone is not None else _SystemLocal()
        system = _zone_or_none(_system_zone_name())
        return system if system is not None else _SystemLocal()
    if len(name) > _MAX_TZ_NAME or "\x00" in name:
        raise ConfigError("timezone name is too long or malformed", hint="use an IANA name such as Europe/Berlin")
    zone = _zone_or_none(name)
    if zone is None:
        raise ConfigError(f"unknown timezone {name[:64]!r}", hint="use an IANA name such as Europe/Berlin or UTC")
    return zone


# Zones that are UTC at every instant: datetime.timezone.utc computes the same dates and offsets,
# and needs neither the zoneinfo import nor a tzdata file read (every report resolves a zone).
_UTC_KEYS = frozenset(("UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"))


def _zone_or_none(key: str) -> tzinfo | None:
    if not key or len(key) > _MAX_TZ_NAME or "\x00" in key:
        return None
    if key in _UTC_KEYS:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        return None


def _system_zone_name() -> str:
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
        with open("/etc/timezone", encoding="utf-8") as f:
            return f.read(200).strip()
    except OSError:
        return ""


class DayKeys:
    """Epoch ms -> local day index / "YYYY-MM-DD", memoized per 15-minute slot (exact for every offset)."""

    __slots__ = ("tz", "_slot_day", "_labels", "_last_slot", "_last_label")

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._slot_day: dict[int, int] = {}
        self._labels: dict[int, str] = {}
        self._last_slot = None  # type: int | None
        self._last_label = ""

    def offset_ms(self, ts: int) -> int:
        """UTC offset in ms at an instant."""
        return offset_ms(ts, self.tz)

    def _slot_index(self, slot: int) -> int:
        start = slot * _SLOT_MS
        a = self.offset_ms(start)
        b = self.offset_ms(start + _SLOT_MS - 1)
        if a != b or a % _SLOT_MS:
            return _IRREGULAR
        return (start + a) // DAY_MS

    def day_index(self, ts: int) -> int:
        """Days since 1970-01-01 of the local date."""
        slot = ts // _SLOT_MS
        idx = self._slot_day.get(slot)
        if idx is None:
            idx = self._slot_day[slot] = self._slot_index(slot)
        if idx == _IRREGULAR:
            return (ts + self.offset_ms(ts)) // DAY_MS
        return idx

    def label(self, idx: int) -> str:
        """Day index -> "YYYY-MM-DD"."""
        s = self._labels.get(idx)
        if s is None:
            s = self._labels[idx] = date.fromordinal(idx + _EPOCH_ORD).isoformat()
        return s

    def day(self, ts: int) -> str:
        """Local date "YYYY-MM-DD" of an instant (fast path for time-sorted input)."""
        slot = ts // _SLOT_MS
        if slot == self._last_slot:
            return self._last_label
        idx = self._slot_day.get(slot)
        if idx is None:
            idx = self._slot_day[slot] = self._slot_index(slot)
        if idx == _IRREGULAR:
            self._last_slot = None
            return self.label((ts + self.offset_ms(ts)) // DAY_MS)
        self._last_slot = slot
        s = self._last_label = self.label(idx)
        return s


def offset_ms(ts_ms: int, tz: tzinfo) -> int:
    """UTC offset of `tz` in ms at an instant."""
    if isinstance(tz, _SystemLocal):
        return time.localtime(ts_ms // 1000).tm_gmtoff * 1000
    off = datetime.fromtimestamp(ts_ms // 1000, tz).utcoffset()
    return 0 if off is None else off // timedelta(milliseconds=1)


def day_key(ts_ms: int, tz: tzinfo) -> str:
    """Local date ("YYYY-MM-DD") of an instant; use DayKeys for many rows."""
    return date.fromordinal((ts_ms + offset_ms(ts_ms, tz)) // DAY_MS + _EPOCH_ORD).isoformat()


def month_key(day: str) -> str:
    """"YYYY-MM-DD" -> "YYYY-MM"."""
    return day[:7]


def week_key(day: str, start_of_week: str = "sunday") -> str:
    """The date ("YYYY-MM-DD") the week containing `day` starts on, like ccusage's `weekly -w`."""
    try:
        start = WEEKDAYS.index(start_of_week.lower())
    except ValueError:
        raise ConfigError(f"start of week must be one of {', '.join(WEEKDAYS)}, not {start_of_week[:20]!r}") from None
    d = date.fromisoformat(day)
    return (d - timedelta(days=(d.weekday() - start) % 7)).isoformat()


week_start = week_key  # older name


def parse_date_arg(value: str, name: str = "date") -> date:
    """--since/--until value (YYYYMMDD or YYYY-MM-DD, a real date) -> date; ConfigError otherwise.

    ccusage accepts year 0000, which Python's date cannot hold: it becomes date.min.
    """
    m = _DATE_RE.fullmatch(value) if isinstance(value, str) and len(value) <= 10 else None
    if not m:
        shown = value[:40] if isinstance(value, str) else value
        raise ConfigError(f"invalid value for {name} {shown!r}: expected YYYY-MM-DD or YYYYMMDD")
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        if y == 0:
            date(2000, mo, d)  # still validate month and day (0000 is a leap year)
            return date.min
        return date(y, mo, d)
    except ValueError:
        raise ConfigError(f"invalid value for {name} {value!r}: not a real date") from None


def date_str(d: date | None) -> str | None:
    """A --since/--until date as the "YYYY-MM-DD" key it is compared with."""
    return None if d is None else d.isoformat()


def iso_ms(ts: int) -> str:
    """Epoch ms -> "2026-01-09T10:00:00.000Z", exactly as ccusage prints instants."""
    sec, ms = divmod(ts, 1000)
    return f"{(_EPOCH + timedelta(seconds=sec)).isoformat()}.{ms:03d}Z"  # naive, whole seconds: YYYY-MM-DDTHH:MM:SS


_EPOCH = datetime(1970, 1, 1)
