"""The AMD audit HTTP API on a running hotline: who may list, listen and label, and bad input refused with
a 400 naming the field. Samples are stored directly here; tests/test_integration_outbound_amd_audit.py makes
them through the call path."""

from __future__ import annotations

import urllib.error
from datetime import UTC, datetime
from pathlib import Path

import pytest

import cli
from engine.dialler.contacts import Contact
from engine.store import agents, amd_audit, audit, queues, skills, users
from engine.store import outbound as store
from engine.store.outbound import AttemptEnd
from tests.hotline_rig import seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

PASSWORD = "s3cret-pass"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BASE = "/api/campaigns/spring/amd-samples"


@pytest.fixture
def rig(tmp_path: Path, db_url):
    audio = tmp_path / "sample.wav"
    audio.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")

    def _seed(s) -> None:
        for name in ("sales", "support", "billing", "vip"):  # the shipped IVR flows need these
            skills.create_skill(s, name)
            queues.create_queue(s, name, required_skills={name: 1})
        agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"sales": 5})
        users.create_user(s, "seed", "sue", PASSWORD, "supervisor")
        campaign = store.create_campaign(s, "spring", caller_id="+442079460000", queue="sales")
        store.add_contacts(s, campaign, [Contact("+442079460018", ("Europe/London",), {}, 2)])
        contact = store.due_contacts(s, campaign.id, NOW, 1, set())[0]
        for leg, path in (("leg-1", str(audio)), ("leg-2", str(tmp_path / "gone.wav"))):
            store.start_attempt(s, leg, contact, NOW, None)
            store.finish_attempt(s, leg, AttemptEnd("machine", NOW, answered_at=NOW, amd_result="MACHINE"))
            amd_audit.add_sample(s, campaign.id, contact.id, leg, path)

    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001"])


def _ids(rig, token: str) -> list[int]:
    return [s["id"] for s in rig.api("GET", BASE, token)[1]["samples"]]


def test_only_supervisors_and_admins_list_listen_and_label(rig) -> None:
    sue = rig.api("POST", "/api/login", "", {"username": "sue", "password": PASSWORD})[1]["token"]
    agent = rig.agent_tokens["1001"]
    first, _ = _ids(rig, sue)
    assert _ids(rig, rig.admin) == [first, first + 1]
    for method, path, body in (
        ("GET", BASE, None),
        ("POST", f"{BASE}/{first}/label", {"label": "human"}),
        ("GET", f"{BASE}/{first}/audio", None),
    ):
        assert rig.api(method, path, agent, body)[0] == 403, path
        assert rig.api(method, path, "not-a-token", body)[0] == 401, path
    assert rig.raw("GET", f"{BASE}/{first}/audio", sue).startswith(b"RIFF")

    status, labelled = rig.api("POST", f"{BASE}/{first}/label", sue, {"label": "machine"})
    assert status == 200 and (labelled["label"], labelled["labelled_by"]) == ("machine", "user:sue")
    assert "estimate" not in labelled  # the campaign is not running: nothing live to update
    assert [s["id"] for s in rig.api("GET", f"{BASE}?unlabelled=1", sue)[1]["samples"]] == [first + 1]
    with rig.engine.sessions() as s:
        entry = audit.entries(s, entity="amd_sample", entity_id=first)[0]
        assert (entry.actor, entry.action, entry.after["label"]) == ("user:sue", "amd_sample.label", "machine")


def test_bad_input_is_refused_naming_the_field(rig) -> None:
    admin = rig.admin
    first, second = _ids(rig, admin)
    status, body = rig.api("POST", f"{BASE}/{first}/label", admin, {"label": "person"})
    assert (status, body) == (400, {"error": "body.label: Input should be 'human' or 'machine'", "field": "body.label"})
    status, body = rig.api("POST", f"{BASE}/{first}/label", admin, {})
    assert (status, body) == (400, {"error": "body.label: is required", "field": "body.label"})
    status, body = rig.api("GET", f"{BASE}?limit=0", admin)
    assert (status, body["field"]) == (400, "query.limit") and "greater than or equal to 1" in body["error"]
    status, body = rig.api("GET", f"{BASE}?unlabelled=maybe", admin)
    assert (status, body["field"]) == (400, "query.unlabelled") and "'0', '1', 'true' or 'false'" in body["error"]
    assert rig.api("POST", f"{BASE}/9999/label", admin, {"label": "human"})[0] == 404
    assert rig.api("GET", "/api/campaigns/autumn/amd-samples", admin)[0] == 404
    with pytest.raises(urllib.error.HTTPError) as missing:  # the sample's file is gone from disk
        rig.raw("GET", f"{BASE}/{second}/audio", admin)
    assert missing.value.code == 404
    assert [s["label"] for s in rig.api("GET", BASE, admin)[1]["samples"]] == [None, None]


def test_cli_lists_labels_and_saves_the_audio_through_the_api(rig, tmp_path: Path, capsys) -> None:
    config = tmp_path / "cli.yaml"
    config.write_text(f"http: {{port: {rig.http_port}}}\n")

    def hotline(*args: str) -> tuple[int, str, str]:
        code = cli.main(["--config", str(config), "--token", rig.admin, "campaign", "amd-audit", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    first, second = _ids(rig, rig.admin)
    code, out, _ = hotline("list", "spring")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["ID", "CREATED_AT", "AMD_RESULT"]
    assert [line.split()[0] for line in out.splitlines()[1:3]] == [str(first), str(second)]
    assert "false negatives (agents' answering-machine dispositions): 0" in out
    assert hotline("label", "spring", str(first), "human") == (0, f"sample {first}: human (by token:admin)\n", "")
    assert [line.split()[0] for line in hotline("list", "spring")[1].splitlines()[1:-1]] == [str(second)]
    assert f"{first} " in hotline("list", "spring", "--all")[1]
    saved = tmp_path / "out.wav"
    assert hotline("audio", "spring", str(first), str(saved))[0] == 0 and saved.read_bytes().startswith(b"RIFF")
    code, _, err = hotline("label", "spring", str(first), "person")
    assert code == 1 and "400 body.label: Input should be 'human' or 'machine'" in err
    code, _, err = hotline("label", "spring", "x", "human")
    assert code == 2 and "use list CAMPAIGN [--all] | label CAMPAIGN ID human|machine" in err


def test_a_sample_deleted_by_retention_answers_410_with_the_date(rig) -> None:
    from engine.retention.policy import Policy
    from engine.runtime.retention import purge

    first, _ = _ids(rig, rig.admin)
    rig.api("POST", f"{BASE}/{first}/label", rig.admin, {"label": "machine"})
    later = datetime.now(UTC).replace(year=2100)
    root = rig.engine.config.data_dir.parent  # this fixture stores the sample files beside data_dir
    report = purge(rig.engine.sessions, root, Policy(amd_samples_days=30), later)
    assert report.kinds["amd_sample"].files == 1  # the labelled one; the unlabelled one waits for its label
    with pytest.raises(urllib.error.HTTPError) as gone:
        rig.raw("GET", f"{BASE}/{first}/audio", rig.admin)
    assert gone.value.code == 410 and "deleted by the retention policy on 2100-" in gone.value.read().decode()
    sample = rig.api("GET", BASE, rig.admin)[1]["samples"][0]
    assert (sample["has_audio"], sample["label"], sample["purged_at"]) == (False, "machine", later.isoformat())
