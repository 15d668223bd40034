"""The metric families hotline exports, on a registry per engine instance.

Live queue and agent gauges are read from the ACD at scrape time (a collector), so they can never
drift from the state that routes calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class _CachedLabels:
    """``labels()`` answered from a dict: prometheus_client checks and converts the values and takes a lock
    on every call (several µs); the hot paths (every ESL command, IVR step, offer) ask for the same few
    children over and over. The cache holds what the metric holds anyway (one child per label set), so
    ``remove()``/``clear()`` (which hotline never calls) would leave it stale."""

    def labels(self, *values: Any, **by_name: Any) -> Any:
        try:
            return self._hotline_children[values]  # type: ignore[attr-defined]
        except AttributeError:
            self._hotline_children: dict[tuple[Any, ...], Any] = {}
        except (KeyError, TypeError):
            pass
        child = super().labels(*values, **by_name)  # type: ignore[misc]  # validates, and raises for bad values
        if values and not by_name:
            self._hotline_children[values] = child
        return child


class Counter(_CachedLabels, prometheus_client.Counter):
    pass


class Gauge(_CachedLabels, prometheus_client.Gauge):
    pass


class Histogram(_CachedLabels, prometheus_client.Histogram):
    pass


LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class QueueSample:
    """What the ACD reports about one queue at scrape time."""

    queue: str
    waiting: int
    longest_wait_seconds: float
    agents_by_state: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveSample:
    queues: list[QueueSample]
    agents_by_state: dict[str, int]


class _LiveCollector(Collector):
    def __init__(self, sample: Callable[[], LiveSample]) -> None:
        self._sample = sample

    def collect(self) -> Iterable[Metric]:
        live = self._sample()
        waiting = GaugeMetricFamily("hotline_queue_calls_waiting", "Calls waiting in queue", labels=["queue"])
        longest = GaugeMetricFamily(
            "hotline_queue_longest_wait_seconds", "Wait of the longest-waiting call", labels=["queue"]
        )
        members = GaugeMetricFamily(
            "hotline_queue_agents", "Member agents of a queue by state", labels=["queue", "state"]
        )
        for q in live.queues:
            waiting.add_metric([q.queue], q.waiting)
            longest.add_metric([q.queue], q.longest_wait_seconds)
            for state, count in sorted(q.agents_by_state.items()):
                members.add_metric([q.queue, state], count)
        agents = GaugeMetricFamily("hotline_agents", "Agents by state", labels=["state"])
        for state, count in sorted(live.agents_by_state.items()):
            agents.add_metric([state], count)
        return [waiting, longest, members, agents]


@dataclass(frozen=True)
class OccupancySample:
    """Occupancy over the rolling window (None: nobody available in it) and all-time seconds per state."""

    window_seconds: float
    queues: dict[str, float | None]
    agents: dict[str, float | None]
    state_seconds: dict[str, float]


class _OccupancyCollector(Collector):
    def __init__(self, sample: Callable[[], OccupancySample]) -> None:
        self._sample = sample

    def collect(self) -> Iterable[Metric]:
        live = self._sample()
        window = f"over the last {live.window_seconds:g} s"
        queues = GaugeMetricFamily(
            "hotline_queue_occupancy", f"(talk + hold + wrap-up) / available time of the queue's agents {window}",
            labels=["queue"],
        )  # fmt: skip
        for queue, value in sorted(live.queues.items()):
            if value is not None:
                queues.add_metric([queue], value)
        agents = GaugeMetricFamily(
            "hotline_agent_occupancy", f"(talk + hold + wrap-up) / available time of one agent {window}",
            labels=["agent"],
        )  # fmt: skip
        for agent, value in sorted(live.agents.items()):
            if value is not None:
                agents.add_metric([agent], value)
        seconds = CounterMetricFamily(
            "hotline_agent_state_seconds", "Seconds agents spent in each state (all agents)", labels=["state"]
        )
        for state, total in sorted(live.state_seconds.items()):
            seconds.add_metric([state], total)
        return [queues, agents, seconds]


@dataclass
class Metrics:
    """All of one engine's metrics. Create one per engine; tests read values through ``value``."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.calls = Counter("hotline_calls", "Finished inbound calls by outcome", ["outcome"], registry=r)
        self.calls_offered = Counter("hotline_queue_offered", "Calls that entered a queue", ["queue"], registry=r)
        self.offers = Counter("hotline_offers", "Offers to agents by result", ["result"], registry=r)
        self.esl_connected = Gauge(
            "hotline_esl_connected", "1 while the ESL connection is up", ["connection"], registry=r
        )
        self.leader = Gauge("hotline_leader", "1 while this process leads its active/standby pair", registry=r)
        self.esl_reconnects = Counter(
            "hotline_esl_reconnects", "Successful ESL reconnections after a lost connection", ["connection"], registry=r
        )
        self.esl_malformed = Counter("hotline_esl_malformed_frames", "Frames that could not be parsed", registry=r)
        self.esl_latency = Histogram(
            "hotline_esl_command_seconds",
            "ESL command round-trip time",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.esl_timeouts = Counter(
            "hotline_esl_command_timeouts", "ESL commands that timed out", ["command"], registry=r
        )
        self.wait_seconds = Histogram(
            "hotline_queue_wait_seconds",
            "Time from queue entry to answer or abandon",
            ["queue", "outcome"],
            buckets=(1, 5, 10, 20, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.queue_offers = Counter(
            "hotline_queue_offers", "Offers to agents by queue and result", ["queue", "result"], registry=r
        )
        self.bridge_failures = Counter(
            "hotline_queue_bridge_failures",
            "Answered offers whose bridge to the caller did not form (the call went back to the head of its queue)",
            ["queue", "reason"],
            registry=r,
        )
        self.talk_seconds = Histogram(
            "hotline_queue_talk_seconds",
            "Time from the bridge to the end of an answered call (for AHT)",
            ["queue"],
            buckets=(30, 60, 120, 180, 300, 600, 1200, 1800),
            registry=r,
        )
        self.hold_seconds = Histogram(
            "hotline_queue_hold_seconds",
            "Time on hold of one answered call (part of its talk time)",
            ["queue"],
            buckets=(0, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.holds = Counter("hotline_queue_holds", "Holds started on answered calls", ["queue"], registry=r)
        self.wrap_seconds = Histogram(
            "hotline_queue_wrap_seconds",
            "Wrap-up after one answered call (for AHT with talk time)",
            ["queue"],
            buckets=(0, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.queue_exits = Counter(
            "hotline_queue_exits", "Calls the ACD moved out of a queue", ["queue", "reason", "target"], registry=r
        )
        self.handshake_failures = Counter(
            "hotline_outbound_handshake_failures", "Calls lost before the outbound socket handshake", registry=r
        )
        self.outbound_refused = Counter(
            "hotline_outbound_refused",
            "Outbound-socket connections closed before a call: peer address not allowed, or no FreeSWITCH handshake",
            ["reason"],
            registry=r,
        )
        self.sockets_released = Counter(
            "hotline_outbound_sockets_released",
            "Calls bridged to an agent whose outbound socket was released (result=released) or kept because the "
            "dialler connection could not take them (result=kept)",
            ["result"],
            registry=r,
        )
        self.calls_turned_away = Counter(
            "hotline_calls_turned_away",
            "New inbound calls turned away because the engine was behind (the dialplan's fallback took them)",
            ["reason"],
            registry=r,
        )
        self.screen_pops = Counter("hotline_screen_pops", "Screen pops published", ["kind"], registry=r)
        self.call_control = Counter(
            "hotline_call_control_actions",
            "Agent and supervisor call-control actions",
            ["action", "result"],
            registry=r,
        )
        self.consults = Counter(
            "hotline_consults", "Consultations and three-way conferences by result", ["kind", "result"], registry=r
        )
        self.call_segments = Counter(
            "hotline_call_segments",
            "Parts of recorded calls, one per agent or outside party, by how they began and ended",
            ["how", "ended_by"],
            registry=r,
        )
        self.agent_dials = Counter(
            "hotline_agent_dials", "Agents' manual outbound dials by outcome", ["outcome"], registry=r
        )
        self.ivr_steps = Counter("hotline_ivr_steps", "IVR actions carried out", ["flow", "step"], registry=r)
        self.ivr_entries = Counter("hotline_ivr_node_entries", "Entries into an IVR node", ["flow", "node"], registry=r)
        self.ivr_failures = Counter(
            "hotline_ivr_input_failures", "Failed caller inputs", ["flow", "node", "kind"], registry=r
        )
        self.ivr_exits = Counter("hotline_ivr_exits", "Flow runs ended, by outcome", ["flow", "outcome"], registry=r)
        self.ivr_seconds = Histogram(
            "hotline_ivr_seconds",
            "Time a caller spent in one flow",
            ["flow"],
            buckets=(1, 5, 10, 20, 30, 60, 120, 300),
            registry=r,
        )
        self.prompts_unplayed = Counter(
            "hotline_prompts_unplayed", "Prompts FreeSWITCH could not play (reason: not_found, error)", ["reason"],
            registry=r,
        )  # fmt: skip
        self.surveys = Counter("hotline_survey_scores", "Post-call survey answers", ["score"], registry=r)
        self.logins = Counter(
            "hotline_logins", "Database-user login attempts by result (ok, failed, locked)", ["result"], registry=r
        )
        self.tickets_created = Counter(
            "hotline_tickets_created", "Tickets opened by category", ["category"], registry=r
        )
        self.ticket_events = Counter("hotline_ticket_events", "Ticket lifecycle events applied", ["event"], registry=r)
        self.tickets_overdue = Gauge(
            "hotline_tickets_overdue", "Open tickets past their due or follow-up due time (read at scrape)", registry=r
        )
        self.campaign_dial_level = Gauge(
            "hotline_campaign_dial_level",
            "Calls in flight per ready agent after the last pacing tick",
            ["campaign"],
            registry=r,
        )
        self.campaign_in_flight = Gauge(
            "hotline_campaign_calls_in_flight", "Dialled calls not yet connected or ended", ["campaign"], registry=r
        )
        self.campaign_dials = Counter(
            "hotline_campaign_dials", "Finished dial attempts by outcome", ["campaign", "outcome"], registry=r
        )
        self.campaign_live = Counter(
            "hotline_campaign_live_answers", "People who answered (connected or abandoned)", ["campaign"], registry=r
        )
        self.campaign_abandons = Counter(
            "hotline_campaign_abandons", "People not connected to an agent within 2 s", ["campaign"], registry=r
        )
        self.campaign_budget_left = Gauge(
            "hotline_campaign_abandon_budget_remaining",
            "Abandoned calls the rolling window still affords before the cap",
            ["campaign"],
            registry=r,
        )
        self.campaign_abandon_rate = Gauge(
            "hotline_campaign_abandon_rate", "Abandon rate of the rolling window", ["campaign"], registry=r
        )
        self.campaign_amd = Counter(
            "hotline_campaign_amd", "Answering machine detection verdicts", ["campaign", "result"], registry=r
        )
        self.campaign_amd_samples = Counter(
            "hotline_campaign_amd_samples", "Machine-classified calls recorded for audit", ["campaign"], registry=r
        )
        self.campaign_amd_labels = Counter(
            "hotline_campaign_amd_labels",
            "AMD audit labels: recorded machine verdicts labelled human|machine, agents' machine dispositions",
            ["campaign", "amd_result", "label"],
            registry=r,
        )
        self.campaign_amd_fp_rate = Gauge(
            "hotline_campaign_amd_false_positive_rate",
            "Estimated share of machine verdicts that were people (point estimate, or the prior)",
            ["campaign"],
            registry=r,
        )
        self.campaign_amd_fp_upper = Gauge(
            "hotline_campaign_amd_false_positive_upper",
            "Upper bound of that share the abandon budget uses (95 % Wilson, or the prior)",
            ["campaign"],
            registry=r,
        )
        self.callbacks_pending = Gauge(
            "hotline_callbacks_pending", "Keep-your-place callbacks not yet done", ["queue"], registry=r
        )
        self.callbacks = Counter(
            "hotline_callbacks", "Keep-your-place callbacks by what became of them", ["queue", "outcome"], registry=r
        )
        self.callback_dials = Counter(
            "hotline_callback_dials", "Callback dials to customers by result", ["queue", "result"], registry=r
        )
        self.retention_files = Counter(
            "hotline_retention_files_deleted", "Recorded files deleted by the retention policy", ["kind"], registry=r
        )
        self.retention_bytes = Counter(
            "hotline_retention_bytes_deleted", "Bytes of recorded files deleted by retention", ["kind"], registry=r
        )
        self.retention_refused = Counter(
            "hotline_retention_refused",
            "Files retention left alone: outside the data directory or not deletable",
            ["kind"],
            registry=r,
        )
        self.retention_last_run = Gauge(
            "hotline_retention_last_run_timestamp_seconds", "When the last retention run finished", registry=r
        )
        self.orphan_legs_killed = Counter(
            "hotline_orphan_legs_killed",
            "Agent legs hotline started but no longer owned, killed: after a command that timed out"
            " (command_timeout) or found by the periodic reconciliation with FreeSWITCH's channels (reconcile)",
            ["reason"],
            registry=r,
        )
        self.callers_gone = Counter(
            "hotline_queue_callers_gone",
            "Queued calls ended because FreeSWITCH said the caller's channel was gone (never offered again)",
            ["queue"],
            registry=r,
        )
        self.freeswitch_sessions = Gauge(
            "hotline_freeswitch_sessions", "Channels FreeSWITCH has now (its `status`, read every 15 s)",
            registry=r,
        )  # fmt: skip
        self.freeswitch_max_sessions = Gauge(
            "hotline_freeswitch_max_sessions", "FreeSWITCH's max-sessions limit (its `status`)", registry=r
        )
        self.unsafe_values = Counter(
            "hotline_unsafe_values",
            "Values refused by the dial grammar before they reached a FreeSWITCH command, by where they came from",
            ["source"],
            registry=r,
        )

        self._storage_metrics(r)

    def _storage_metrics(self, r: CollectorRegistry) -> None:
        """The database write queue (engine/store/writer.py), greenlet supervision and the loop's lag."""
        self.db_queue_depth = Gauge(
            "hotline_db_write_queue_depth", "Database write records queued in memory, not yet written", registry=r
        )
        self.db_journal_depth = Gauge(
            "hotline_db_journal_depth",
            "Database write records in the local journal (queue full or database down), not yet written",
            registry=r,
        )
        self.db_up = Gauge(
            "hotline_db_up", "1 while the database takes writes, 0 from a failed write until one succeeds", registry=r
        )
        self.db_writes = Counter("hotline_db_writes", "Records written by the database writer", ["kind"], registry=r)
        self.db_write_failures = Counter(
            "hotline_db_write_failures",
            "Batches the database could not take (unavailable): kept and retried",
            registry=r,
        )
        self.db_write_retries = Counter(
            "hotline_db_write_retries", "Retries of a batch after the database was unavailable", registry=r
        )
        self.db_write_rejected = Counter(
            "hotline_db_write_rejected",
            "Records the database refused for good (or journal lines that are no record), set aside in"
            " <data_dir>/db_rejected.jsonl",
            ["kind"],
            registry=r,
        )
        self.db_read_failures = Counter(
            "hotline_db_read_failures",
            "Reads on the call path that failed because the database was unavailable (the call went on without)",
            ["read"],
            registry=r,
        )
        self.switch_ended_calls = Counter(
            "hotline_switch_ended_calls",
            "Entries of calls FreeSWITCH saw end (mod_hash realm hotline_ended), by what the sweep did: recorded "
            "(ended while no engine ran), known (had a CDR), unrecordable (never queued, or malformed)",
            ["result"], registry=r,
        )  # fmt: skip
        self.greenlet_restarts = Counter(
            "hotline_greenlet_restarts", "Long-lived greenlets restarted after an error", ["name"], registry=r
        )
        self.loop_lag = Histogram(
            "hotline_event_loop_lag_seconds",
            "How late a greenlet sleeping a fixed interval wakes up: time the event loop was held",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def watch_live(self, sample: Callable[[], LiveSample]) -> None:
        """Export queue and agent gauges read from ``sample`` at every scrape."""
        self.registry.register(_LiveCollector(sample))

    def watch_occupancy(self, sample: Callable[[], OccupancySample]) -> None:
        """Export occupancy gauges and seconds per agent state read from ``sample`` at every scrape."""
        self.registry.register(_OccupancyCollector(sample))

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when absent): for tests and the CLI."""
        got = self.registry.get_sample_value(name, labels)
        return 0.0 if got is None else got
