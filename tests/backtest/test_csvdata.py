"""CSV bars: columns checked, each line checked with its number, timestamps monotonic, gaps counted and located."""

from __future__ import annotations

import pytest

from riskmgr.backtest.csvdata import parse_csv
from riskmgr.core.errors import ValidationError

HEADER = "timestamp,open,high,low,close,volume\n"


def lines(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


def refused(raw: bytes, timeframe: str = "1h") -> str:
    with pytest.raises(ValidationError) as err:
        parse_csv(raw, timeframe)
    assert err.value.field == "file"
    return err.value.message


def test_good_file_in_epoch_milliseconds_parses_into_columns():
    parsed = parse_csv(lines("1735689600000,1,2,0.5,1.5,10", "1735693200000,1.5,2,1,1.8,12"), "1h")

    c = parsed.candles
    assert c.ts.tolist() == [1735689600000, 1735693200000]
    assert (c.open.tolist(), c.close.tolist(), c.volume.tolist()) == ([1, 1.5], [1.5, 1.8], [10, 12])
    assert parsed.gaps.count == 0


def test_iso_times_epoch_seconds_any_column_order_and_extra_columns_are_accepted():
    raw = (b"Close,Volume,Date,Open,High,Low,Note\n"
           b"1.5,10,2025-01-01T00:00:00Z,1,2,0.5,x\n1.8,12,2025-01-01T01:00,1.5,2,1,y\n")
    seconds = lines("1735689600,1,2,0.5,1.5,10", "1735693200,1.5,2,1,1.8,12")

    assert parse_csv(raw, "1h").candles.ts.tolist() == [1735689600000, 1735693200000]
    assert parse_csv(seconds, "1h").candles.ts.tolist() == [1735689600000, 1735693200000]


def test_gaps_are_counted_and_located_with_their_lines():
    raw = lines("1735689600000,1,2,0.5,1.5,10", "1735693200000,1.5,2,1,1.8,12", "1735704000000,1.8,2,1,1.9,5",
                "1735707600000,1.9,2,1,1.9,5", "1735718400000,1.9,2,1,1.9,5")

    gaps = parse_csv(raw, "1h").gaps

    assert (gaps.count, gaps.missing_bars) == (2, 4)  # 02:00, 03:00 and 05:00, 06:00 are missing
    assert gaps.first[0] == {"after": "2025-01-01T01:00:00+00:00", "next": "2025-01-01T04:00:00+00:00",
                             "missing_bars": 2, "line": 4}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "is empty"),
        (b"open,high,low,close,volume\n", "line 1: no time column"),
        (b"time,open,high,low,close\n", "line 1: missing column 'volume'"),
        (lines("1735689600000,1,2,0.5,1.5,10", "1735693200000,1.5,2,1"), "line 3: 4 fields, but the header has 6"),
        (lines("1735689600000,1,2,0.5,abc,10", "x"), "line 2: close 'abc' is not a number"),
        (lines("1735689600000,1,2,0.5,1.5,10", "1735693200000,1.5,1.6,1,1.8,12"), "line 3: the high 1.6 and low 1"),
        (lines("1735689600000,1,2,0.5,1.5,-1", "x"), "line 2: volume -1.0 is below 0"),
        (lines("1735689600000,0,2,0.5,1.5,1", "x"), "line 2: prices must be above 0"),
        (lines("1735689600000,1,2,0.5,1.5,10", "1735689600000,1,2,0.5,1.5,10"), "line 3: time 2025-01-01T00:00:00"),
        (lines("1735689600000,1,2,0.5,1.5,10", "1735691400000,1,2,0.5,1.5,10"), "not a whole number of 3600 s bars"),
        (lines("soon,1,2,0.5,1.5,10", "x"), "line 2: time 'soon' is neither"),
        (lines("1735689600000,1,2,0.5,nan,10", "x"), "line 2: close 'nan' is not a finite number"),
        (lines("1735689600000,1,2,0.5,1.5,10"), "holds 1 bar(s); at least 2 are needed"),
        (b"\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_bad_files_are_rejected_with_the_line_and_the_reason(raw, words):
    assert words in refused(raw)


def test_blank_lines_are_skipped_but_counted_in_line_numbers():
    raw = HEADER.encode() + b"1735689600000,1,2,0.5,1.5,10\n\n1735693200000,1.5,2,1,1.8,-3\n"

    assert refused(raw).startswith("line 4: volume")
