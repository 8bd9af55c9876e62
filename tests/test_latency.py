"""A request's latency bin is how many edges lie strictly below its latency, the same in
Python (the COPY path) and in SQL (the triggers, the merge, the late requests' index)."""

import math

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from ingest import latency

ON_AND_AROUND_EDGES = sorted(
    {v for e in latency.EDGES for v in (e, math.nextafter(e, 0), math.nextafter(e, math.inf))}
)
latencies = st.floats(0, 10**6) | st.sampled_from(ON_AND_AROUND_EDGES)


@given(latencies)
def test_the_bin_counts_the_edges_strictly_below(seconds):
    assert latency.bin_of(seconds) == sum(1 for edge in latency.EDGES if edge < seconds)


def test_no_latency_is_the_first_bin_and_an_edge_is_not_slower_than_itself():
    assert latency.bin_of(None) == 0
    assert latency.bin_of(300.0) == latency.index_of(300)  # not slower than 300 s
    assert latency.bin_of(300.000001) == latency.index_of(300) + 1


@pytest.mark.django_db
@pytest.mark.parametrize("histogram", latency.HISTOGRAMS, ids=lambda h: h.bin_column)
def test_sql_says_the_same_as_python(histogram):
    """The triggers compute the bins in SQL, the COPY path in Python: for the latency and for
    the first token (whose bin 0 is "none reported")."""
    values = [None, 0.0, *ON_AND_AROUND_EDGES, 10**6]
    rows = ", ".join(["(%s::float8)"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {histogram.bin_sql('x')} FROM (VALUES {rows}) AS v (x)",  # noqa: S608
            values,
        )
        assert [row[0] for row in cursor.fetchall()] == [histogram.bin_of(v) for v in values]


def test_the_first_token_bin_tells_none_reported_from_the_fastest():
    assert latency.FIRST_TOKEN.bin_of(None) == 0
    assert latency.FIRST_TOKEN.bin_of(0.0) == 1
    assert latency.FIRST_TOKEN.bin_of(0.1) == 1  # not slower than its first edge
    assert latency.FIRST_TOKEN.bin_of(0.100001) == 2


def test_names_for_columns_and_for_people():
    assert latency.column(latency.index_of(0.25)) == "slower_than_250ms"
    assert latency.column(latency.index_of(300)) == "slower_than_300s"
    assert [latency.spelled(e) for e in (0.25, 5, 90, 300, 7200, 86400)] == [
        "250 ms", "5 s", "90 s", "5 min", "2 h", "1 d",
    ]  # fmt: skip
    assert latency.floor_edge(100) == 90
    assert latency.floor_edge(0.001) == 0.1
    with pytest.raises(ValueError, match=r"4\.5 s is not a latency edge"):
        latency.index_of(4.5)
