"""The AMD audit loop end to end over real TCP against the FreeSWITCH emulator: a campaign call AMD calls a
machine is sampled and recorded (``uuid_record`` with a limit, started before ``amd``), a supervisor labels it
human through the API, and the campaign's false-positive bound and abandon window count the person AMD hung up
on. A person AMD got right is not kept on disk; an agent's answering-machine disposition is a false negative."""

from __future__ import annotations

from pathlib import Path

import pytest
from gevent.queue import Queue
from sqlalchemy import select

from engine.campaigns.runner import AttemptRecorded
from engine.emulator import CalledParty, Phone
from engine.store import agents, queues, skills, users
from engine.store.outbound_models import DialDecisionRecord
from tests.hotline_rig import seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

LIVE, WRONG, BUSY = "+442079460018", "+442079460019", "+442079460020"
CSV = f"phone,name\n{LIVE},Ada\n{WRONG},Bob\n{BUSY},Cy\n"
SAMPLING = {"sample_percent": 100, "record_seconds": 3, "min_labels": 1, "prior": 0.15}
PASSWORD = "s3cret-pass"


def _seed(s) -> None:
    for name in ("sales", "support", "billing", "vip"):  # the shipped IVR flows need these
        skills.create_skill(s, name)
        queues.create_queue(s, name, wrap_up_seconds=1, required_skills={name: 1})
    queues.create_queue(s, "outbound", wrap_up_seconds=1, required_skills={"sales": 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"sales": 5})
    users.create_user(s, "seed", "sue", PASSWORD, "supervisor")


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001"])


def test_machine_verdict_is_sampled_labelled_human_and_counted_as_an_abandon(rig, tmp_path: Path):
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    rig.emulator.parties.update(
        {
            # patient: waiting 10 emulated seconds for an agent is only 0.1 s of a loaded machine's time
            LIVE: CalledParty(LIVE, "live", talk_seconds=40, patience_seconds=1000),
            # a person AMD takes for a machine; patient too: the dialler, not a loaded machine, ends the call
            WRONG: CalledParty(WRONG, "live", amd_says="MACHINE", patience_seconds=1000),
            BUSY: CalledParty(BUSY, "busy"),
        }
    )
    body = {
        "name": "spring",
        "caller_id": "+442079460000",
        "queue": "outbound",
        "compliance": {"window": {"start": "00:00", "end": "23:59:59"}, "amd_sampling": SAMPLING},
        "dispositions": ["sale", "answering_machine"],
    }
    assert rig.api("POST", "/api/campaigns", rig.admin, body)[0] == 200
    assert rig.api("POST", "/api/campaigns/spring/contacts", rig.admin, {"csv": CSV})[1]["imported"] == 3
    rig.ready("1001")
    rig.engine.campaigns.services.connect_within = 10.0  # this test is about AMD, not the 2 s rule
    recorded: Queue = Queue()
    rig.engine.campaigns.services.attempt_recorded.append(recorded.put)
    rig.api("POST", "/api/campaigns/spring/start", rig.admin)
    results: dict[str, AttemptRecorded] = {}
    while len(results) < 3:
        got = recorded.get(timeout=10)
        results[got.number] = got

    wrong, live = results[WRONG], results[LIVE]
    assert wrong.result.outcome == "machine" and wrong.result.amd_result == "MACHINE"
    assert live.result.outcome == "live" and live.result.amd_result == "HUMAN"
    samples_dir = tmp_path / "data" / "amd_samples" / "spring"
    # the machine verdict was recorded from the answer: uuid_record before amd, closed at its limit
    on_leg = [e for e in rig.emulator.events if e.uuid == wrong.leg]
    names = [(e.name, e.get("Application")) for e in on_leg]
    assert names.index(("RECORD_START", "")) < names.index(("CHANNEL_EXECUTE", "amd"))
    stop = next(e for e in on_leg if e.name == "RECORD_STOP")
    assert stop.get("Record-Completion-Cause") == "success-maxtime"
    hangup = next(i for i, e in enumerate(on_leg) if e.name == "CHANNEL_HANGUP")
    assert on_leg.index(stop) < hangup  # the dialler kept the leg up until the sample was complete
    # the person AMD got right was recorded too (nobody knows the verdict in advance) but is not kept
    assert [p.name for p in samples_dir.rglob("*.wav")] == [f"{wrong.leg}.wav"]
    assert any(e.name == "RECORD_STOP" for e in rig.emulator.events if e.uuid == live.leg)

    # before any label the campaign counts the conservative prior, and the decision log says so
    status = rig.api("GET", "/api/campaigns/spring", rig.admin)[1]
    assert status["live"]["amd_false_positive"]["source"] == "prior"
    assert status["live"]["amd_decision_seconds"] > 0  # AMD decision time, a live statistic
    assert status["live"]["window"]["amd_false_positives"] == pytest.approx(0.15)  # 1 machine verdict x 15 %
    with rig.engine.sessions() as s:
        logged = [d.inputs["amd_false_positive"] for d in s.scalars(select(DialDecisionRecord))]
    assert logged and all(e["source"] == "prior" and "conservative prior 15.00%" in e["note"] for e in logged)

    # a supervisor lists the unlabelled samples, listens, and labels this one human
    sue = rig.api("POST", "/api/login", "", {"username": "sue", "password": PASSWORD})[1]["token"]
    listed = rig.api("GET", "/api/campaigns/spring/amd-samples?unlabelled=1", sue)[1]["samples"]
    assert [(s["call_uuid"], s["amd_result"], s["label"]) for s in listed] == [(wrong.leg, "MACHINE", None)]
    audio = rig.raw("GET", f"/api/campaigns/spring/amd-samples/{listed[0]['id']}/audio", sue)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    label_path = f"/api/campaigns/spring/amd-samples/{listed[0]['id']}/label"
    status_code, labelled = rig.api("POST", label_path, sue, {"label": "human"})
    assert status_code == 200 and labelled["label"] == "human" and labelled["labelled_by"] == "user:sue"
    assert labelled["estimate"]["source"] == "audited" and labelled["estimate"]["upper"] == 1.0
    assert rig.api("GET", "/api/campaigns/spring/amd-samples?unlabelled=1", sue)[1]["samples"] == []

    # 1 person in 1 label: Wilson bound 100 %; 1 machine verdict per 1 human verdict -> one hidden person,
    # counted as a live answer and as an abandon in the window
    window = rig.api("GET", "/api/campaigns/spring", rig.admin)[1]["live"]["window"]
    assert window["amd_false_positives"] == pytest.approx(1.0)
    assert window["live"] == pytest.approx(2.0) and window["abandons"] == pytest.approx(1.0)
    assert window["rate"] == pytest.approx(0.5)
    runner = rig.engine.campaigns.runners["spring"]
    assert runner.stats.amd_false_positive_upper() == pytest.approx(0.5)  # what the pacing guard sees

    # the agent says the person AMD called human was an answering machine: a false negative, no abandon
    agent = rig.agent_tokens["1001"]
    disposition = {"agent": "1001", "code": "answering_machine"}
    assert (
        rig.api("POST", f"/api/campaigns/spring/contacts/{live.contact_id}/disposition", agent, disposition)[0] == 200
    )
    listing = rig.api("GET", "/api/campaigns/spring/amd-samples", sue)[1]
    assert listing["false_negatives"] == 1
    assert rig.api("GET", "/api/campaigns/spring", rig.admin)[1]["live"]["window"]["abandons"] == pytest.approx(1.0)

    # a restarted runner rebuilds the same figures from the database
    assert rig.api("POST", "/api/campaigns/spring/pause", rig.admin)[0] == 200
    assert rig.api("POST", "/api/campaigns/spring/start", rig.admin)[0] == 200
    live_status = rig.api("GET", "/api/campaigns/spring", rig.admin)[1]["live"]
    assert live_status["amd_false_positive"]["source"] == "audited"
    assert (
        live_status["amd_false_positive"]["machine_verdicts"],
        live_status["amd_false_positive"]["human_verdicts"],
    ) == (1, 1)
    assert live_status["window"]["amd_false_positives"] == pytest.approx(1.0)

    m = rig.engine.metrics
    assert m.value("hotline_campaign_amd_samples_total", campaign="spring") == 1
    assert m.value("hotline_campaign_amd_labels_total", campaign="spring", amd_result="MACHINE", label="human") == 1
    assert m.value("hotline_campaign_amd_labels_total", campaign="spring", amd_result="HUMAN", label="machine") == 1
    assert m.value("hotline_campaign_amd_false_positive_rate", campaign="spring") == 1.0
    assert m.value("hotline_campaign_amd_false_positive_upper", campaign="spring") == 1.0
