"""The capacity model's arithmetic (scripts/stack_capacity.py) on inputs whose answers are
worked out by hand below, so that the table in docs/scaling.md means what it says."""

from __future__ import annotations

import re

import pytest

import stack_capacity as capacity

pytestmark = pytest.mark.static

# The backends of the worked examples.
THREE = ("a", "b", "c")


def inputs(
    per_cpu_second: float = 10_000, traefik: float = 5_000, steps_per_s: float = 1_000
) -> dict:
    """Three identical backends (the worked answers below assume three, whatever the
    functions are): 2 log lines of 500 bytes and 100 series per request/pod."""
    backend = {
        "per_cpu_second": per_cpu_second,
        "log_lines_per_request": 2.0,
        "log_bytes_per_request": 500.0,
        "series_per_pod": 100,
    }
    return {
        "backends": {n: dict(backend) for n in THREE},
        "traefik": {"per_cpu_second": traefik, "series_per_pod": 50},
        "stepper": {"steps_per_s": steps_per_s},
    }


def test_small_rates_run_on_the_production_minimums() -> None:
    p = capacity.plan(inputs(), 1_000)
    assert p["pods"] == dict.fromkeys(THREE, 3)
    assert p["traefik"] == 2
    assert p["series"] == 9 * 100 + 2 * 50
    assert "nothing" in capacity.breaks_first(p)


def test_pods_and_replicas_scale_with_the_rate() -> None:
    # 1M/s over 3 backends = 333,333/s each; a pod carries 60 % of 10,000/s = 6,000/s
    # -> ceil(55.6) = 56 pods each; Traefik: 1M / (0.6 x 5,000) = 333.3 -> 334.
    p = capacity.plan(inputs(), 1_000_000)
    assert p["pods"] == dict.fromkeys(THREE, 56)
    assert p["traefik"] == 334
    # 2 lines x 1M/s; 500 B x 1M/s = 500 MB/s = 43.2 TB/day.
    assert p["docs_per_s"] == 2_000_000
    assert p["log_mb_per_s"] == pytest.approx(500)
    assert p["log_tb_per_day"] == pytest.approx(43.2)
    assert p["es_nodes"] == 200 and p["logstash_cores"] == 400
    assert p["series"] == 168 * 100 + 334 * 50


def test_the_stepper_key_is_named_when_it_saturates() -> None:
    # 1 % of 100k/s = 1,000 steps/s on a 1,000 steps/s key: 100 % of its ceiling.
    p = capacity.plan(inputs(steps_per_s=1_000), 100_000)
    assert p["stepper_load"] == pytest.approx(1.0)
    assert "Redis key" in capacity.breaks_first(p)
    assert "Redis key" not in capacity.breaks_first(capacity.plan(inputs(), 10_000))


def test_measured_figures_appear_only_in_the_generated_table() -> None:
    # One set of figures: the Redis and stepper measurements live in the table that
    # `make capacity` rewrites; the prose refers to it instead of quoting numbers that drift.
    text = (capacity.ROOT / "docs/scaling.md").read_text()
    begin, end = text.index(capacity.TABLE_BEGIN), text.index(capacity.TABLE_END)
    prose = text[:begin] + text[end:]
    quoted = re.findall(r"\d[\d,.]*\s*(?:k\s*)?(?:µs|steps/s|ms\b)", prose)
    assert quoted == [], f"figures outside the generated table: {quoted}"
