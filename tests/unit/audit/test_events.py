"""Audit events: canonical bytes and the fast ``seq`` reader used by verification (property-tested)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deletion_sdk.audit.events import AuditEvent, event_seq, format_instant
from deletion_sdk.errors import InputError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(min_value=0, max_value=10**12),
    data=st.dictionaries(
        st.sampled_from(["seq", "job_id", "x", ',"seq":1,"type":']), json_values, max_size=4
    ),
    actor=st.text(min_size=1, max_size=10),
)
def test_event_seq_reads_the_top_level_seq(seq: int, data: dict[str, object], actor: str) -> None:
    event = AuditEvent(seq=seq, type="job.step", at="2025-01-01T00:00:00.000000Z", actor=actor, data=data)
    text = event.canonical().decode("utf-8")
    assert event_seq(text) == seq == json.loads(text)["seq"]


def test_event_seq_falls_back_and_refuses_junk() -> None:
    assert event_seq('{"type":"a.b","seq":4}') == 4  # not canonical order: full parse
    assert event_seq('{"seq":true}') is None
    assert event_seq("not json") is None
    assert event_seq('{"data":{}}') is None


def test_format_instant_is_utc_with_microseconds() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert format_instant(datetime(2025, 5, 1, 12, 0, tzinfo=plus2)) == "2025-05-01T10:00:00.000000Z"
    assert format_instant(datetime(2025, 5, 1, tzinfo=UTC)).endswith("Z")
    with pytest.raises(InputError, match="timezone-aware"):
        format_instant(datetime(2025, 5, 1))
