"""A real `flask worker` killed with SIGKILL while its subscribe messages are in flight
loses nothing: a second worker sends what it left after the lease. A repeat (subscribe
messages have no client_msg_id) can only be a send that was in flight at the kill: each
accepted send is committed at once, never held for a batch. bench/crash_window.py runs
the same rounds (20) and prints the figures."""
import random

import pytest

from bench import crash_window

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


@pytest.fixture
def services_only(backend):
    if backend.name != "services":
        pytest.skip("worker processes share one database only on PostgreSQL (FOR UPDATE "
                    "SKIP LOCKED); SQLite is the single-process embedded default")


def test_a_worker_killed_mid_send_loses_nothing_and_repeats_only_sends_in_flight(
        app, backend, demo, live_url, services_only):
    env = crash_window.worker_env(backend.database_url, backend.redis_url,
                                  backend.redis_prefix, live_url)
    result = crash_window.run_rounds(app, env, live_url, demo["candidates"], rounds=3,
                                     per_round=120, rng=random.Random(7),
                                     log=lambda *a, **k: None)
    print(result)
    assert result["messages"] == 360
    assert result["lost"] == 0
    assert result["duplicated"] <= result["in_flight_at_kill"]
