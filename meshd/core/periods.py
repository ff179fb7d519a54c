"""Local-date bucketing in an IANA zone, and --since/--until parsing. Pure and fast."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meshd.errors import ConfigError

_EPOCH_DAY = date(1970, 1, 1).toordinal()
_SLOT_MS = 900_000  # every zone's offset is a multiple of 15 minutes
_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def resolve_tz(name: str | None) -> tzinfo:
    """An IANA zone by name; None means the system's zone (honouring TZ)."""
    if not name:
        env = os.environ.get("TZ", "").lstrip(":")
        if env:
            try:
                return ZoneInfo(env)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        try:
            return ZoneInfo(_system_zone_name())
        except (ZoneInfoNotFoundError, ValueError, OSError):
            local = datetime.now().astimezone().tzinfo
            return local or timezone.utc
    if len(name) > 64:
        raise ConfigError("timezone name too long")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {name!r}", hint="use an IANA name such as Europe/Berlin or UTC") from None


def _system_zone_name() -> str:
    target = os.path.realpath("/etc/localtime")
    marker = "zoneinfo/"
    if marker in target:
        return target.split(marker, 1)[1]
    return open("/etc/timezone").read().strip()


class DayKeys:
    """ts (epoch ms) -> local date string, memoized per 15-minute slot."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._offset: dict[int, int] = {}
        self._label: dict[int, str] = {}

    def offset_ms(self, ts: int) -> int:
        slot = ts // _SLOT_MS
        off = self._offset.get(slot)
        if off is None:
            dt = datetime.fromtimestamp(slot * (_SLOT_MS // 1000), self.tz)
            off = self._offset[slot] = int(dt.utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
        return off

    def day_index(self, ts: int) -> int:
        return (ts + self.offset_ms(ts)) // 86_400_000

    def day(self, ts: int) -> str:
        idx = self.day_index(ts)
        s = self._label.get(idx)
        if s is None:
            s = self._label[idx] = date.fromordinal(idx + _EPOCH_DAY).isoformat()
        return s


def day_key(ts_ms: int, tz: tzinfo) -> str:
    """Local date (YYYY-MM-DD) of an instant."""
    return DayKeys(tz).day(ts_ms)


def week_start(day: str, start_of_week: str = "sunday") -> str:
    """The date the week containing `day` starts on."""
    d = date.fromisoformat(day)
    start = WEEKDAYS.index(start_of_week)
    return (d - timedelta(days=(d.weekday() - start) % 7)).isoformat()


def parse_date_arg(value: str, name: str = "date") -> date:
    """YYYYMMDD or YYYY-MM-DD -> date; ConfigError otherwise."""
    m = _DATE_RE.match(value.strip()) if len(value) <= 20 else None
    if not m:
        raise ConfigError(f"{name} must be YYYYMMDD or YYYY-MM-DD, not {value[:40]!r}")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a real date") from None


def iso_ms(ts: int) -> str:
    """Epoch ms -> 2026-01-09T10:00:00.000Z, as ccusage prints instants."""
    dt = datetime.fromtimestamp(ts // 1000, timezone.utc)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ts % 1000:03d}Z"
