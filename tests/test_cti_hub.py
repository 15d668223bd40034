"""The per-agent feed: isolation between agents, replay of the current pop, bounded queues."""

from __future__ import annotations

from engine.cti import Hub


def test_messages_reach_only_that_agents_desktops():
    hub = Hub()
    a1, a2, b = hub.subscribe("1001"), hub.subscribe("1001"), hub.subscribe("1002")
    assert hub.publish("1001", "screen_pop", {"caller": "139"}) == 2
    assert a1.get(0).data == {"caller": "139"}
    assert a2.get(0).kind == "screen_pop"
    assert b.get(0) is None


def test_sticky_pop_is_replayed_to_a_desktop_that_connects_later_until_cleared():
    hub = Hub()
    hub.publish("1001", "screen_pop", {"call": "c1"}, sticky=True)
    late = hub.subscribe("1001")
    assert late.get(0).data == {"call": "c1"}
    hub.clear("1001")
    assert hub.subscribe("1001").get(0) is None


def test_a_stalled_desktop_keeps_the_newest_messages():
    hub = Hub()
    sub = hub.subscribe("1001")
    for n in range(150):
        hub.publish("1001", "state", {"n": n})
    first = sub.get(0)
    assert first.data == {"n": 50} and sub.queue.qsize() == 99


def test_closed_subscription_gets_nothing_and_sse_framing():
    hub = Hub()
    sub = hub.subscribe("1001")
    sub.close()
    assert hub.publish("1001", "state", {}) == 0
    message = hub.subscribe("1002")
    hub.publish("1002", "state", {"state": "ready"})
    assert message.get(0).to_sse().endswith(b'event: state\ndata: {"state": "ready"}\n\n')


def test_a_subscriptions_view_rewrites_every_message_it_hands_out_the_replayed_pop_included():
    hub = Hub()
    hub.publish("1001", "screen_pop", {"notes": "secret"}, sticky=True)
    hidden = lambda kind, data: {k: v for k, v in data.items() if k != "notes"} if kind == "screen_pop" else data  # noqa: E731
    late, plain = hub.subscribe("1001", hidden), hub.subscribe("1001")
    assert late.get(0).data == {} and plain.get(0).data == {"notes": "secret"}
    hub.publish("1001", "state", {"notes": "not a pop"})
    assert late.get(0).data == {"notes": "not a pop"}
