"""Static checks of freeswitch_conf/ and dialplans/ (no FreeSWITCH needed).

The files are expanded the way FreeSWITCH's own XML pre-processor does it: line by
line, ``$${var}`` substituted first, lines holding ``<include>``, ``</include>`` or
``<?`` dropped, ``<X-PRE-PROCESS cmd="set|include" .../>`` executed (includes are
globs relative to the including file's folder). The result must be one well-formed
document whose settings keep hotline's promises: loopback only, no STUN, the
Event Socket password from vars.xml, the hotline number routed to the outbound
socket with a fallback after it, and only the allowed modules loaded.
"""

from __future__ import annotations

import glob
import re
import subprocess
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.runtime.consults import CONFERENCE_PROFILE

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "freeswitch_conf"
DIALPLAN_DIR = REPO / "dialplans"

# Variables FreeSWITCH's core sets before it reads freeswitch.xml.
CORE_VARIABLES = {
    "conf_dir": str(CONF_DIR),
    "storage_dir": "/var/lib/freeswitch/storage",
    "sounds_dir": "/usr/share/freeswitch/sounds",
    "log_dir": "/var/log/freeswitch",
    "db_dir": "/var/lib/freeswitch/db",
    "recordings_dir": "/var/lib/freeswitch/recordings",
}

ALLOWED_MODULES = frozenset(
    {
        "mod_console", "mod_logfile", "mod_event_socket", "mod_sofia", "mod_loopback",
        "mod_commands", "mod_dptools", "mod_dialplan_xml", "mod_sndfile", "mod_native_file",
        "mod_tone_stream", "mod_local_stream", "mod_say_en", "mod_tts_commandline",
        "mod_spandsp", "mod_voicemail", "mod_db", "mod_hash", "mod_expr", "mod_conference",
    }
)  # fmt: skip

LOOPBACK = "127.0.0.1"
PRE_PROCESS = re.compile(r'<X-PRE-PROCESS\s+cmd="([^"]*)"\s+data="([^"]*)"\s*/>', re.IGNORECASE)
GLOBAL_VAR = re.compile(r"\$\$\{([^}]*)\}")


@dataclass
class Expanded:
    """Outcome of pre-processing freeswitch.xml."""

    text: str
    variables: dict[str, str]
    undefined: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _preprocess(path: Path, result: Expanded, out: list[str], depth: int = 0) -> None:
    """Expand one file into ``out`` with FreeSWITCH's pre-processor rules."""
    assert depth < 20, f"{path}: include nesting too deep"
    result.files.append(path)
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):

        def substitute(match: re.Match[str], lineno: int = lineno) -> str:
            name = match.group(1)
            if name not in result.variables:
                result.undefined.append(f"{path}:{lineno}: $${{{name}}} is not set")
            return result.variables.get(name, "")

        line = GLOBAL_VAR.sub(substitute, raw)
        if "<include>" in line or "</include>" in line or "<?" in line:
            continue
        if "x-pre-process" not in line.lower():
            out.append(line)
            continue
        match = PRE_PROCESS.search(line)
        assert match, f"{path}:{lineno}: malformed X-PRE-PROCESS line: {raw.strip()}"
        cmd, data = match.groups()
        if cmd == "set":
            name, sep, value = data.partition("=")
            assert sep, f"{path}:{lineno}: set needs name=value, got {data!r}"
            result.variables[name.strip()] = value.strip()
        elif cmd == "include":
            pattern = data if Path(data).is_absolute() else str(path.parent / data)
            matches = sorted(glob.glob(pattern))
            assert matches, f"{path}:{lineno}: include {data!r} matches no file"
            for included in matches:
                _preprocess(Path(included), result, out, depth + 1)
        else:
            pytest.fail(f"{path}:{lineno}: X-PRE-PROCESS cmd={cmd!r} is not allowed (only set, include)")


def expand() -> Expanded:
    """Pre-process freeswitch.xml from the repository."""
    result = Expanded(text="", variables=dict(CORE_VARIABLES))
    out: list[str] = []
    _preprocess(CONF_DIR / "freeswitch.xml", result, out)
    result.text = "\n".join(out)
    return result


@pytest.fixture(scope="module")
def expanded() -> Expanded:
    return expand()


@pytest.fixture(scope="module")
def document(expanded: Expanded) -> ET.Element:
    try:
        return ET.fromstring(expanded.text)
    except ET.ParseError as exc:
        line = expanded.text.splitlines()[exc.position[0] - 1]
        pytest.fail(f"expanded freeswitch.xml does not parse ({exc}): {line.strip()}")


def all_xml_files() -> list[Path]:
    return sorted([*CONF_DIR.rglob("*.xml"), *DIALPLAN_DIR.rglob("*.xml")])


def config(document: ET.Element, name: str) -> ET.Element:
    found = document.find(f"section[@name='configuration']/configuration[@name='{name}']")
    assert found is not None, f"no <configuration name={name!r}>"
    return found


def params(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.iter("param")}


def extension(document: ET.Element, context: str, number: str) -> ET.Element:
    """The first extension of ``context`` whose destination_number condition matches ``number``."""
    ctx = document.find(f"section[@name='dialplan']/context[@name='{context}']")
    assert ctx is not None, f"no dialplan context {context!r}"
    for ext in ctx.iter("extension"):
        cond = ext.find("condition[@field='destination_number']")
        if cond is not None and re.search(cond.get("expression", ""), number):
            return ext
    pytest.fail(f"no extension in context {context!r} matches {number!r}")


def actions(ext: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("application", ""), a.get("data", "")) for a in ext.iter("action")]


@pytest.mark.parametrize("path", all_xml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_is_well_formed_xml(path: Path) -> None:
    try:
        ET.parse(path)
    except ET.ParseError as exc:
        pytest.fail(f"{path}: {exc}")


def test_expansion_reads_every_file_and_defines_every_variable(expanded: Expanded) -> None:
    assert expanded.undefined == []
    assert set(all_xml_files()) == {path.resolve() for path in expanded.files}


def test_expanded_document_has_the_four_sections(document: ET.Element) -> None:
    assert document.tag == "document"
    sections = [s.get("name") for s in document.findall("section")]
    assert sections == ["configuration", "directory", "dialplan", "languages"]


def test_dialplan_folder_defaults_to_the_repository_dialplans(expanded: Expanded) -> None:
    assert Path(expanded.variables["hotline_dialplan_dir"]).resolve() == DIALPLAN_DIR


def test_nothing_reaches_outside_this_machine() -> None:
    forbidden = re.compile(r"stun:|ClueCon|local_ip_v4|ext-(?:sip|rtp)-ip|xml_curl|autonat|exec-set|stun-set")
    for path in all_xml_files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            assert not forbidden.search(line), f"{path}:{lineno}: {line.strip()}"


def test_event_socket_is_loopback_only_with_the_vars_password(document: ET.Element, expanded: Expanded) -> None:
    esl = params(config(document, "event_socket.conf"))
    assert esl["listen-ip"] == LOOPBACK
    assert esl["listen-port"] == "8021"
    assert esl["password"] == expanded.variables["esl_password"]
    assert esl["password"] not in {"", "ClueCon"}
    acl = config(document, "acl.conf").find(f"network-lists/list[@name='{esl['apply-inbound-acl']}']")
    assert acl is not None, f"ACL {esl['apply-inbound-acl']!r} is not defined in acl.conf.xml"
    assert acl.get("default") == "deny"
    assert [(n.get("type"), n.get("cidr")) for n in acl.iter("node")] == [("allow", "127.0.0.0/8")]


def test_one_sip_profile_bound_to_loopback(document: ET.Element) -> None:
    profiles = config(document, "sofia.conf").findall("profiles/profile")
    assert [p.get("name") for p in profiles] == ["internal"]
    sofia = params(profiles[0])
    assert sofia["sip-ip"] == LOOPBACK
    assert sofia["rtp-ip"] == LOOPBACK
    assert sofia["auth-calls"] == "true"


def test_only_allowed_modules_are_loaded(document: ET.Element) -> None:
    loaded = [m.get("module") for m in config(document, "modules.conf").iter("load")]
    assert set(loaded) <= ALLOWED_MODULES
    assert len(loaded) == len(set(loaded)), "a module is loaded twice"
    needed = {"mod_event_socket", "mod_sofia", "mod_dialplan_xml", "mod_voicemail", "mod_tts_commandline"}
    assert needed | {"mod_conference"} <= set(loaded)


def test_the_conference_profile_call_control_uses_is_quiet_and_plays_hold_music_to_one(
    document: ET.Element, expanded: Expanded
) -> None:
    profiles = {p.get("name"): p for p in config(document, "conference.conf").iter("profile")}
    assert set(profiles) == {CONFERENCE_PROFILE}
    params = {p.get("name"): p.get("value") for p in profiles[CONFERENCE_PROFILE].iter("param")}
    assert params["moh-sound"] == expanded.variables["hold_music"] == "local_stream://moh"
    assert not {k for k in params if k.endswith("-sound") and k != "moh-sound"}  # no announcements or tones


def test_hotline_number_goes_to_the_hotline_socket_then_falls_back(document: ET.Element, expanded: Expanded) -> None:
    number, socket = expanded.variables["hotline_number"], expanded.variables["hotline_socket"]
    assert socket == "127.0.0.1:8084"
    steps = actions(extension(document, "default", number))
    apps = [app for app, _ in steps]
    # first the hang-up hook (FreeSWITCH keeps the call's variables when it ends: engine/runtime/ended_calls.py)
    assert steps[0][0] == "set" and steps[0][1].startswith("api_hangup_hook=hash insert/hotline_ended/${uuid}/v1,")
    assert steps[1] == ("socket", f"{socket} async full")
    # after the socket returns: answer, the rendered message, ring group, the second message, then voicemail
    prompts = str(CONF_DIR / "prompts")
    fallback, voicemail = (
        steps.index(("playback", f"{prompts}/fallback.wav")),
        steps.index(("playback", f"{prompts}/voicemail.wav")),
    )
    assert apps.index("answer") < fallback < apps.index("bridge") < voicemail < apps.index("voicemail")
    assert "speak" not in apps  # text-to-speech forks a synthesiser per call: never in the fallback
    before_bridge = steps[: apps.index("bridge")]
    assert ("set", "continue_on_fail=true") in before_bridge
    assert ("set", "hangup_after_bridge=true") in before_bridge
    domain, box = expanded.variables["domain"], expanded.variables["hotline_voicemail_box"]
    assert steps[apps.index("bridge")][1] == f"group/agents@{domain}"
    assert steps[apps.index("voicemail")][1] == f"default {domain} {box}"
    assert apps[-1] == "hangup"


def test_public_context_sends_only_the_hotline_number_to_default(document: ET.Element, expanded: Expanded) -> None:
    number = expanded.variables["hotline_number"]
    assert actions(extension(document, "public", number)) == [("transfer", f"{number} XML default")]
    public = document.find("section[@name='dialplan']/context[@name='public']")
    assert public is not None and len(public.findall("extension")) == 1


def test_agents_dial_each_other_and_service_numbers_exist(document: ET.Element, expanded: Expanded) -> None:
    domain = expanded.variables["domain"]
    for n in range(1001, 1011):
        assert ("bridge", f"user/$1@{domain}") in actions(extension(document, "default", str(n)))
    ctx = document.find("section[@name='dialplan']/context[@name='default']")
    assert ctx is not None
    agent_rule = ctx.find("extension[@name='agent_to_agent']/condition")
    assert agent_rule is not None
    for outsider in ("1000", "1011", "10010"):
        assert not re.search(agent_rule.get("expression", ""), outsider)
    assert ("answer", "") in actions(extension(document, "default", "9999"))
    assert actions(extension(document, "default", "park_me")) == [("park", "")]


def test_directory_has_agents_group_and_fallback_box(document: ET.Element, expanded: Expanded) -> None:
    domain = document.find(f"section[@name='directory']/domain[@name='{expanded.variables['domain']}']")
    assert domain is not None
    agents = domain.findall("groups/group[@name='agents']/users/user")
    assert [u.get("id") for u in agents] == [str(n) for n in range(1001, 1011)]
    for user in agents:
        assert params(user)["password"] == expanded.variables["agent_password"]
    box = domain.find(f"users/user[@id='{expanded.variables['hotline_voicemail_box']}']")
    assert box is not None
    assert params(box)["sip-forbid-register"] == "true"


def test_music_on_hold_folder_is_not_empty(document: ET.Element, expanded: Expanded) -> None:
    moh = config(document, "local_stream.conf").find("directory[@name='moh']")
    assert moh is not None
    folder = Path(moh.get("path", ""))
    assert folder.resolve() == (CONF_DIR / "moh").resolve()
    playlist = (folder / "hold.loc").read_text(encoding="utf-8").split()
    assert playlist and all(entry.startswith("tone_stream://") for entry in playlist)
    assert expanded.variables["hold_music"] == "local_stream://moh"


def test_tts_calls_espeak_ng(document: ET.Element) -> None:
    command = params(config(document, "tts_commandline.conf"))["command"]
    assert command.split()[0] == "espeak-ng"
    assert {"${text}", "${file}"} <= set(command.split())


def test_voicemail_phrases_are_spoken_by_tts(document: ET.Element, expanded: Expanded) -> None:
    language = document.find("section[@name='languages']/language[@name='en']")
    assert language is not None
    assert language.get("tts-engine") == "tts_commandline"
    assert language.get("tts-voice") == expanded.variables["tts_voice"]
    macros = {m.get("name"): m for m in language.iter("macro")}
    assert {"voicemail_ack", "voicemail_goodbye", "voicemail_disk_quota_exceeded"} <= set(macros)
    acks = {i.get("pattern") for i in macros["voicemail_ack"].iter("input")}
    assert {"^too-small$", "^saved$"} <= acks
    assert {a.get("function") for a in language.iter("action")} == {"speak-text"}


def test_the_fallback_messages_are_rendered_once_to_8khz_wavs(tmp_path: Path, expanded: Expanded) -> None:
    """scripts/render_prompts.sh (run by scripts/setup.sh) renders vars.xml's two messages to the files
    the fallback plays; run again with nothing changed, it renders nothing."""
    script = REPO / "scripts" / "render_prompts.sh"
    first = subprocess.run([script, tmp_path], capture_output=True, text=True, timeout=120, check=True)
    assert first.stdout.splitlines() == [f"render_prompts: {tmp_path}/{n}.wav" for n in ("fallback", "voicemail")]
    for name in ("fallback", "voicemail"):
        assert expanded.variables[f"hotline_{name}_message"]
        with wave.open(str(tmp_path / f"{name}.wav"), "rb") as rendered:
            assert (rendered.getframerate(), rendered.getnchannels(), rendered.getsampwidth()) == (8000, 1, 2)
            assert rendered.getnframes() / 8000 > 2.0  # a spoken sentence, not an empty file
    again = subprocess.run([script, tmp_path], capture_output=True, text=True, timeout=120, check=True)
    assert again.stdout == ""
