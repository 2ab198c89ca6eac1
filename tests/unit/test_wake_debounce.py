"""Worker wake-ups: a burst of commits publishes once at once and once at the end of the
interval, so the last commit of a burst is never left for the periodic sweep."""
import threading
import time

from app.services.notifications import outbox


class FakeRedis:
    def __init__(self):
        self.published = []
        self.event = threading.Event()

    def publish(self, channel, message):
        self.published.append((time.monotonic(), channel))
        self.event.set()


def test_a_burst_publishes_at_once_and_once_more_at_the_end():
    debouncer = outbox._WakeDebouncer()
    client = FakeRedis()
    start = time.monotonic()
    for _ in range(20):
        debouncer.wake(client, "ch")
    last_wake = time.monotonic()
    assert len(client.published) == 1  # the first commit's wake-up went out at once
    assert client.published[0][0] - start < 0.01
    deadline = time.monotonic() + 2
    while len(client.published) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(outbox.WAKE_INTERVAL_SECONDS * 2)
    assert len(client.published) == 2  # one trailing wake-up for the other 19
    assert client.published[1][0] >= last_wake
    assert client.published[1][0] - start >= outbox.WAKE_INTERVAL_SECONDS * 0.9


def test_a_quiet_channel_publishes_at_once_and_channels_are_independent():
    debouncer = outbox._WakeDebouncer()
    client = FakeRedis()
    debouncer.wake(client, "a")
    debouncer.wake(client, "b")
    assert [c for _, c in client.published] == ["a", "b"]
    time.sleep(outbox.WAKE_INTERVAL_SECONDS * 1.5)
    debouncer.wake(client, "a")
    assert [c for _, c in client.published] == ["a", "b", "a"]


def test_a_failed_publish_is_logged_not_raised(caplog):
    class Down:
        def publish(self, channel, message):
            raise ConnectionError("redis down")

    outbox._WakeDebouncer().wake(Down(), "ch")
    assert "could not publish outbox wake-up" in caplog.text
