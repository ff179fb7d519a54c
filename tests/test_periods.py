"""Local-date keys (odd offsets, DST), week/month keys, --since/--until parsing, zone resolution."""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.core.periods import DayKeys, day_key, iso_ms, month_key, parse_date_arg, resolve_tz, week_key
from meshd.errors import ConfigError

ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla", "Australia/Lord_Howe",
         "Pacific/Chatham", "Asia/Tehran", "America/St_Johns", "Europe/Dublin", "America/Santiago",
         "Pacific/Kiritimati")


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def truth(ts: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts // 1000, tz).date().isoformat()


@pytest.mark.parametrize("instant,zone,want", [
    ("2024-05-01T18:14:59.999Z", "Asia/Kathmandu", "2024-05-01"),  # +05:45
    ("2024-05-01T18:15:00.000Z", "Asia/Kathmandu", "2024-05-02"),
    ("2024-05-01T18:29:59.999Z", "Asia/Kolkata", "2024-05-01"),  # +05:30
    ("2024-05-01T18:30:00.000Z", "Asia/Kolkata", "2024-05-02"),
    ("2024-05-01T15:14:59.999Z", "Australia/Eucla", "2024-05-01"),  # +08:45
    ("2024-05-01T15:15:00.000Z", "Australia/Eucla", "2024-05-02"),
    ("2024-03-10T04:59:59.999Z", "America/New_York", "2024-03-09"),  # EST midnight, DST starts at 07:00Z
    ("2024-03-10T05:00:00.000Z", "America/New_York", "2024-03-10"),
    ("2024-03-11T03:59:59.999Z", "America/New_York", "2024-03-10"),  # EDT midnight after the change
    ("2024-03-11T04:00:00.000Z", "America/New_York", "2024-03-11"),
    ("2024-11-03T05:30:00.000Z", "America/New_York", "2024-11-03"),  # 01:30 EDT, first pass
    ("2024-11-03T06:30:00.000Z", "America/New_York", "2024-11-03"),  # 01:30 EST, second pass
    ("2024-11-04T04:59:59.999Z", "America/New_York", "2024-11-03"),  # the 25-hour day ends
    ("2024-11-04T05:00:00.000Z", "America/New_York", "2024-11-04"),
    ("2024-04-06T12:59:59.999Z", "Australia/Lord_Howe", "2024-04-06"),  # +11:00, then +10:30 (30-min DST)
    ("2024-04-07T13:29:59.999Z", "Australia/Lord_Howe", "2024-04-07"),
    ("2024-04-07T13:30:00.000Z", "Australia/Lord_Howe", "2024-04-08"),
    ("2024-09-07T11:59:59.999Z", "America/Santiago", "2024-09-07"),  # DST starts at local midnight
    ("2024-09-08T03:59:59.999Z", "America/Santiago", "2024-09-07"),
    ("2024-09-08T04:00:00.000Z", "America/Santiago", "2024-09-08"),  # 00:00 does not exist: 01:00 -03
])
def test_day_keys_at_the_edges(instant: str, zone: str, want: str) -> None:
    tz = resolve_tz(zone)
    ts = ms(instant)
    assert day_key(ts, tz) == want
    assert DayKeys(tz).day(ts) == want
    assert truth(ts, ZoneInfo(zone)) == want


@pytest.mark.parametrize("zone", ZONES)
def test_day_keys_match_zoneinfo_everywhere(zone: str) -> None:
    tz, zi = resolve_tz(zone), ZoneInfo(zone)
    keys = DayKeys(tz)
    rnd = random.Random(zone)
    for _ in range(3000):
        ts = rnd.randrange(ms("1971-01-01T00:00:00Z"), ms("2037-12-31T00:00:00Z"))
        assert keys.day(ts) == truth(ts, zi) == day_key(ts, tz), ts
    ts = ms("2024-01-01T00:00:00Z")
    for _ in range(20000):  # sorted input, the fast path, across a year of transitions
        ts += rnd.choice((1, 999, 60_000, 899_999, 900_000, 3_600_000, 5_000_000))
        assert keys.day(ts) == truth(ts, zi), ts


def test_irregular_offsets_are_exact_too() -> None:
    """Pre-1970 local mean time (Amsterdam +00:19:32) is not a 15-minute offset: keyed per instant."""
    tz = resolve_tz("Europe/Amsterdam")
    keys = DayKeys(tz)
    for ts in (ms("1930-05-01T23:40:27.999Z"), ms("1930-05-01T23:40:28.000Z"), ms("1937-06-30T23:59:59Z")):
        assert keys.day(ts) == truth(ts, ZoneInfo("Europe/Amsterdam"))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=4_102_444_800_000), st.sampled_from(ZONES))
def test_day_key_property(ts: int, zone: str) -> None:
    assert day_key(ts, resolve_tz(zone)) == truth(ts, ZoneInfo(zone))


def test_day_keys_are_fast() -> None:
    """Smoke check: a million sorted instants keyed in a few seconds at most."""
    keys = DayKeys(resolve_tz("Asia/Kathmandu"))
    day = keys.day
    t = time.perf_counter()
    ts = ms("2024-01-01T00:00:00Z")
    for k in range(1_000_000):
        day(ts + k * 31_000)
    assert time.perf_counter() - t < 5


def test_week_and_month_keys() -> None:
    assert week_key("2024-03-17") == "2024-03-17"  # a Sunday
    assert week_key("2024-03-18") == "2024-03-17"
    assert week_key("2024-03-16") == "2024-03-10"
    assert week_key("2024-03-17", "monday") == "2024-03-11"
    assert week_key("2024-03-18", "monday") == "2024-03-18"
    assert week_key("2025-01-01", "sunday") == "2024-12-29"  # across the year
    assert week_key("2024-03-20", "Saturday") == "2024-03-16"
    assert month_key("2024-03-09") == "2024-03"
    with pytest.raises(ConfigError):
        week_key("2024-03-17", "someday")


@pytest.mark.parametrize("value,want", [
    ("20240501", date(2024, 5, 1)), ("2024-05-01", date(2024, 5, 1)), ("20240229", date(2024, 2, 29)),
    ("2000-02-29", date(2000, 2, 29)), ("99991231", date(9999, 12, 31)), ("00000101", date.min),
])
def test_since_until_good(value: str, want: date) -> None:
    assert parse_date_arg(value, "--since") == want


@pytest.mark.parametrize("value", [
    "2024-02-30", "20240230", "20230229", "1900-02-29", "99999999", "2024-13-01", "20240001", "2024-05-00",
    "2024-0501", "202405-01", "2024/05/01", " 20240501", "20240501 ", "2024-05-01\n", "2024-5-1", "", "today",
    "x" * 100_000, "2" * 10_000, "２０２４０５０１", "2024-05-01T00:00", "+2024-05-01", "-20240501", "2024_05_01",
    "\x00", "0000-02-30",
])
def test_since_until_bad(value: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_date_arg(value, "--until")
    assert "--until" in str(e.value) and len(str(e.value)) < 200


def test_resolve_tz_names_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_tz("Asia/Kathmandu") == ZoneInfo("Asia/Kathmandu")
    for bad in ("Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/", "x" * 5000, "UTC\x00"):
        with pytest.raises(ConfigError):
            resolve_tz(bad)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert resolve_tz(None) == ZoneInfo("Asia/Kolkata")
    assert resolve_tz("") == ZoneInfo("Asia/Kolkata")
    monkeypatch.setenv("TZ", ":America/New_York")
    assert resolve_tz(None) == ZoneInfo("America/New_York")


def test_posix_tz_string_falls_back_to_the_c_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "XST-5:30")  # not an IANA key: +05:30 through the C library
    time.tzset()
    try:
        tz = resolve_tz(None)
        assert day_key(ms("2024-05-01T18:29:59.999Z"), tz) == "2024-05-01"
        assert DayKeys(tz).day(ms("2024-05-01T18:30:00.000Z")) == "2024-05-02"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_system_zone_without_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    tz = resolve_tz(None)
    assert day_key(0, tz) in ("1969-12-31", "1970-01-01")


def test_iso_ms() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(ms("2024-03-10T07:00:00.5Z")) == "2024-03-10T07:00:00.500Z"
    assert iso_ms(4_102_444_800_001) == "2100-01-01T00:00:00.001Z"
    assert iso_ms(int(datetime(2024, 2, 29, 23, 59, 59, 999000, timezone.utc).timestamp() * 1000)) == \
        "2024-02-29T23:59:59.999Z"
