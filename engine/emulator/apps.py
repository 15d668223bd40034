"""Dialplan applications a channel can execute (mod_dptools as far as hotline uses it)."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import gevent

from engine.emulator import media
from engine.emulator.channel import Channel
from engine.emulator.originate import Dialplan, OriginateError, Originator
from engine.emulator.switch import new_uuid

App = Callable[[Channel, str], object]  # a str result is the Application-Response
SPEECH_RESULT = (
    '<?xml version="1.0"?>\n<result grammar="{grammar}"><interpretation grammar="{grammar}" confidence="90">'
    '<input mode="speech">{text}</input></interpretation></result>\n'
)
DTMF_RESULT = (
    '<?xml version="1.0"?>\n<result><interpretation confidence="100"><input mode="dtmf">{digits}</input>'
    "</interpretation></result>\n"
)
NO_INPUT = '<?xml version="1.0"?>\n<result><interpretation><input><noinput/></input></interpretation></result>\n'


def _play(ch: Channel, path: str) -> str:
    seconds = media.play_seconds(path)
    ch.pause(seconds)
    return "FILE PLAYED"


def _playback(ch: Channel, path: str) -> str:
    """The ``playback`` application: like switch_ivr_play_file, it reads the caller's keys while
    playing (each fires DTMF) and stops at one of ``playback_terminators`` (default ``*``).  An
    absolute file that does not exist is ``FILE NOT FOUND`` at once (relative names are sounds the
    emulator pretends to have)."""
    if any(part.startswith("/") and not Path(part).exists() for part in path.removeprefix("file_string://").split("!")):
        return "FILE NOT FOUND"
    seconds = media.play_seconds(path)
    limit = ch.variables.get("playback_timeout_sec", "")  # switch_ivr_play_file: only above 1 second
    capped = limit.isdigit() and int(limit) > 1 and (seconds is None or int(limit) < seconds)
    seconds = int(limit) if capped else seconds
    deadline = None if seconds is None else time.monotonic() + ch.switch.scaled(seconds)
    terminators = ch.variables.get("playback_terminators", "*")
    terminators = "" if terminators == "none" else terminators
    while ch.alive:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return "PLAYBACK ERROR" if capped else "FILE PLAYED"  # what FreeSWITCH answers at its timeout
        key = gevent.spawn(ch.dtmf.peek)
        gevent.wait([ch.interrupt, key], timeout=remaining, count=1)
        if not key.ready():
            key.kill()
            if capped and deadline is not None and time.monotonic() >= deadline:
                return "PLAYBACK ERROR"
            break  # played to the end, or uuid_break / hangup
        digit = ch.take_dtmf(0)
        if digit is None or digit in terminators:
            if digit:
                ch.variables["playback_terminator_used"] = digit
            break
    return "FILE PLAYED"


def _collect(ch: Channel, min_d: int, max_d: int, timeout: float, terminators: str, digit_timeout: float) -> str:
    """Read digits the way switch_ivr_read does: stop at max, a terminator, or a timeout."""
    if ch.script is not None:
        answer = ch.script("dtmf")
        if answer not in ("noinput", "") and not answer.startswith("say:"):
            ch.queue_dtmf(answer)
    digits = ""
    wait = timeout
    while len(digits) < max_d:
        digit = ch.take_dtmf(wait)
        if digit is None:
            break
        if digit in terminators:
            ch.variables["read_terminator_used"] = digit
            break
        digits += digit
        wait = digit_timeout
    return digits if len(digits) >= min_d else ""


def _inline_step(step: str) -> tuple[str, str]:
    """One ``app:arg`` of an inline dialplan."""
    app, _, app_arg = step.partition(":")
    return app, app_arg


class Apps:
    """The application table; built per emulator because bridge/transfer need the originator and dialplan."""

    def __init__(
        self,
        originator: Originator,
        dialplan: Dialplan,
        socket_app: App,
        hunt: Callable[[str, Channel], list[tuple[str, str]] | None] | None = None,
    ) -> None:
        """``hunt``: an extension's actions for a destination as a channel sees it (execute_extension)."""
        self.originator = originator
        self.dialplan = dialplan
        self.hunt = hunt or (lambda number, _ch: dialplan(number))
        self.table: dict[str, App] = {
            "answer": lambda ch, _: ch.answer(),
            "pre_answer": lambda ch, _: ch.pre_answer(),
            "ring_ready": lambda ch, _: ch.ring_ready(),
            "playback": _playback,
            "endless_playback": lambda ch, arg: _playback(ch, "local_stream://" + arg),
            "speak": self.speak,
            "play_and_get_digits": self.play_and_get_digits,
            "read": self.read,
            "detect_speech": self.detect_speech,
            "play_and_detect_speech": self.play_and_detect_speech,
            "txfax": self.fax,
            "rxfax": self.fax,
            "record": self.record,
            "record_session": self.record_session,
            "stop_record_session": lambda ch, arg: ch.stop_recording(arg.strip()),
            "set": self.set,
            "export": self.export,
            "unset": lambda ch, arg: ch.variables.pop(arg.strip(), None),
            "sleep": lambda ch, arg: ch.pause(int(arg or 0) / 1000),
            "park": lambda ch, _: ch.park(),
            "bridge": self.bridge,
            "hangup": lambda ch, arg: ch.hangup(arg.strip() or "NORMAL_CLEARING"),
            "transfer": self.transfer,
            "eavesdrop": self.eavesdrop,
            "socket": socket_app,
            "execute_extension": self.execute_extension,
            "voicemail": self.voicemail,
            "amd": self.amd,
            "avmd_start": self.avmd_start,
            "avmd_stop": lambda ch, _: ch.variables.update(avmd_stopped="true"),
            "log": lambda ch, _: None,
            "info": lambda ch, _: None,
        }

    def amd(self, ch: Channel, arg: str) -> None:
        """mod_amd: listen until a verdict, then set ``amd_result`` (HUMAN|MACHINE|NOTSURE) and ``amd_cause``."""
        party = self.originator.party_on_leg.get(ch.uuid)
        if party is None:  # nobody simulated on this leg: silence until the analysis time runs out
            ch.pause(5.0)
            result, cause = "NOTSURE", "TOOLONG"
        else:
            ch.pause(party.amd_seconds)
            result, cause = party.amd_verdict()
        if ch.alive:
            ch.variables.update(amd_result=result, amd_cause=cause)

    def avmd_start(self, ch: Channel, arg: str) -> None:
        """mod_avmd: start beep detection (returns at once); a machine's beep fires CUSTOM avmd::beep."""
        party = self.originator.party_on_leg.get(ch.uuid)
        if party is None or party.kind != "machine":
            return
        due_us = ch.times.get("answered", 0) + ch.switch.scaled(party.greeting_seconds) * 1e6

        def beep() -> None:
            # until the greeting's end on the switch's clock: a timer may fire a little early (the event loop's
            # cached time), which at a small time scale would be a beep inside the greeting
            while (left := due_us - ch.switch.now_us()) > 0:
                if ch.dead.wait(left / 1e6):
                    return
            if ch.variables.get("avmd_stopped") == "true":
                return
            ch.variables["avmd_detect"] = "TRUE"
            lead = [("Event-Subclass", "avmd::beep"), ("Unique-ID", ch.uuid), ("Call-command", "avmd")]
            ch.event("CUSTOM", lead=lead, tail=[("Frequency", "1000.000000"), ("Frequency-variance", "0.000100")])

        ch.variables.pop("avmd_stopped", None)
        gevent.spawn(beep)

    def speak(self, ch: Channel, arg: str) -> None:
        ch.pause(media.speak_seconds(arg.split("|")[-1]))

    def play_and_get_digits(self, ch: Channel, arg: str) -> None:
        """min max tries timeout terminators file invalid_file var_name regexp digit_timeout transfer_on_failure."""
        args = arg.split()
        if len(args) < 5:
            return
        min_d, max_d, tries, timeout_ms = (int(x) for x in args[:4])
        terminators = args[4]
        prompt = args[5] if len(args) > 5 else ""
        invalid = args[6] if len(args) > 6 else ""
        var = args[7] if len(args) > 7 else ""
        regexp = args[8] if len(args) > 8 else r"\d+"
        digit_timeout = int(args[9]) / 1000 if len(args) > 9 else timeout_ms / 1000
        on_failure = " ".join(args[10:])
        for attempt in range(max(tries, 1)):
            if not ch.alive:
                return
            if prompt and ch.dtmf.empty():
                _play(ch, prompt)
            digits = _collect(ch, min_d, max_d, timeout_ms / 1000, terminators, digit_timeout)
            if digits and re.fullmatch(regexp, digits):
                if var:
                    ch.variables[var] = digits
                return
            if invalid and attempt + 1 < tries and ch.alive:
                _play(ch, invalid)
        if var:
            ch.variables.pop(var, None)
        if on_failure and ch.alive:
            self.transfer(ch, on_failure)

    def read(self, ch: Channel, arg: str) -> None:
        """min max file var timeout terminators."""
        args = arg.split()
        if len(args) < 4:
            return
        timeout = int(args[4]) / 1000 if len(args) > 4 else 5.0
        if ch.dtmf.empty():
            _play(ch, args[2])
        terminators = args[5] if len(args) > 5 else "#"
        ch.variables[args[3]] = _collect(ch, int(args[0]), int(args[1]), timeout, terminators, timeout)

    def detect_speech(self, ch: Channel, arg: str) -> None:
        """``engine grammar name`` starts recognition: DETECTED_SPEECH follows with the caller's words."""
        words = arg.split()
        if not words or words[0] in ("pause", "resume", "stop", "param", "grammaron", "grammaroff"):
            return
        grammar = words[2] if len(words) > 2 else (words[1] if len(words) > 1 else "default")
        answer = ch.script("speech") if ch.script is not None else "noinput"
        text = answer.removeprefix("say:") if answer.startswith("say:") else ""
        gevent.spawn(self._speech_result, ch, grammar, text)

    def fax(self, ch: Channel, arg: str) -> None:
        """mod_spandsp's txfax/rxfax: a one-page T.30 exchange, reported in the same variables.

        ``rxfax <path>`` writes a placeholder file there; a missing document for ``txfax`` fails
        the way spandsp does (``fax_success=0``, result code 2, "Cannot open source TIFF file").
        """
        path = Path(arg.split()[0]) if arg.split() else None
        sending = ch.variables.get("current_application") == "txfax"
        ok = path is not None and (not sending or path.exists())
        ch.pause(6.0)
        if ok and not sending and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"II*\x00")  # a TIFF header: what was received is a (tiny) TIFF
        ch.variables.update(
            {
                "fax_success": "1" if ok else "0",
                "fax_result_code": "0" if ok else "2",
                "fax_result_text": "OK" if ok else "Cannot open source TIFF file",
                "fax_document_transferred_pages": "1" if ok else "0",
                "fax_document_total_pages": "1" if ok else "0",
            }
        )

    def play_and_detect_speech(self, ch: Channel, arg: str) -> None:
        """``<file> detect:<engine> [{params}]<grammar>``: play, recognise, set ``detect_speech_result``.

        The caller's next scripted answer decides: ``say:<words>`` is heard as speech, keys are
        returned as ``<input mode="dtmf">``, anything else is no input.
        """
        path, _, _detector = arg.partition(" detect:")
        answer = ch.script("speech") if ch.script is not None else "noinput"
        if answer.startswith("say:"):
            text = answer.removeprefix("say:")
            result = SPEECH_RESULT.format(grammar="default", text=text)
        elif answer not in ("noinput", "", "hangup"):
            ch.queue_dtmf(answer)
            result = DTMF_RESULT.format(digits=answer)
        else:
            result = NO_INPUT
        if ch.dtmf.empty() or not answer.startswith("say:"):
            _play(ch, path.strip())
        ch.variables["detect_speech_result"] = result

    @staticmethod
    def _speech_result(ch: Channel, grammar: str, text: str) -> None:
        if not ch.pause(media.speak_seconds(text or "x")) and not ch.alive:
            return
        body = SPEECH_RESULT.format(grammar=grammar, text=text) if text else NO_INPUT
        lead = [("Speech-Type", "detected-speech"), ("ASR-Completion-Cause", "0" if text else "2")]
        ch.event("DETECTED_SPEECH", lead=lead, body=body)

    def record(self, ch: Channel, arg: str) -> None:
        """path [time_limit_secs] [silence_thresh] [silence_hits]: records until the limit or hangup."""
        args = arg.split()
        if not args:
            return
        limit = float(args[1]) if len(args) > 1 else 3.0
        ch.start_recording(args[0])
        ch.pause(min(limit, 1.0))
        ch.stop_recording(args[0])
        ch.variables["record_seconds"] = str(int(min(limit, 1.0)))

    def record_session(self, ch: Channel, arg: str) -> None:
        path = arg.split()[0] if arg.split() else f"/tmp/{ch.uuid}.wav"
        ch.start_recording(path)
        gevent.spawn(lambda: ch.dead.wait() and ch.stop_recording(path))

    def set(self, ch: Channel, arg: str) -> None:
        name, _, value = arg.partition("=")
        if value and ch.expander is not None:  # mod_dptools' base_set expands the value again
            value = ch.expander(value, ch.variables)
        if value:
            ch.variables[name.strip()] = value
        else:
            ch.variables.pop(name.strip(), None)

    def export(self, ch: Channel, arg: str) -> None:
        self.set(ch, arg.removeprefix("nolocal:"))
        name = arg.partition("=")[0].strip().removeprefix("nolocal:")
        exported = [n for n in ch.variables.get("export_vars", "").split(",") if n]
        ch.variables["export_vars"] = ",".join(dict.fromkeys([*exported, name]))
        if ch.bridged_to is not None:
            ch.bridged_to.variables[name] = ch.variables.get(name, "")

    def bridge(self, ch: Channel, arg: str) -> None:
        exports = {n: ch.variables.get(n, "") for n in ch.variables.get("export_vars", "").split(",") if n}
        try:
            leg = self.originator.originate(
                arg,
                originator=ch,
                cid_number=ch.cid_number,
                cid_name=ch.cid_name,
                timeout=float(ch.variables.get("call_timeout", "60") or 60),
            )
        except OriginateError as exc:
            ch.variables["originate_disposition"] = exc.cause
            ch.variables["DIALSTATUS"] = exc.cause
            return
        leg.variables.update(exports)
        ch.variables["originate_disposition"] = "SUCCESS"
        ch.variables["DIALSTATUS"] = "SUCCESS"
        leg.session = gevent.spawn(self._callee, leg)
        ch.bridge(leg, by_app=True)

    @staticmethod
    def _callee(leg: Channel) -> None:
        """The originated leg's session: stay bridged, leave when the caller does."""
        leg.wait_unbridged(by_app=False)
        leg.finish()

    def transfer(self, ch: Channel, arg: str) -> None:
        """``transfer <dest> [XML <context> | inline]``: run the destination's dialplan. An ``inline``
        dialplan (``app:arg,app:arg``) ends in a hangup, as FreeSWITCH's does once its apps are done."""
        words = shlex.split(arg)[-1:] if arg.startswith("-") else arg.split()
        inline = len(words) > 1 and words[1] == "inline"
        steps = [_inline_step(step) for step in words[0].split(",")] if inline else self.dialplan(words[0])
        for app, app_arg in steps:
            if not ch.alive or ch.transfer_to:
                return
            ch.execute(app, app_arg, new_uuid())
        if inline and ch.alive:
            ch.hangup("NORMAL_CLEARING")

    def execute_extension(self, ch: Channel, arg: str) -> None:
        """``execute_extension <ext> XML <context>``: hunt ``ext`` now (conditions see the channel's
        variables as they are) and run its actions, then go on with the caller's extension."""
        words = arg.split()
        steps = self.hunt(words[0], ch) if words else None
        for app, app_arg in steps or []:
            if not ch.alive or ch.transfer_to:
                return
            ch.execute(app, app_arg, new_uuid())

    def voicemail(self, ch: Channel, arg: str) -> None:
        """mod_voicemail leaving a message: a beep, then the caller's message until silence."""
        ch.answer()
        box = (arg.split() or [""])[-1]
        path = f"/tmp/hotline-emulator-voicemail/{box}/{ch.uuid}.wav"
        ch.pause(4.0)
        if ch.alive:
            media.write_wav(path, 4.0)
            ch.variables["voicemail_message_len"] = "4"

    def eavesdrop(self, ch: Channel, arg: str) -> None:
        """Listen to ``arg`` (a uuid); DTMF 1/2/3/0 switch whisper-to-A / to-B / three-way / listen."""
        target = ch.switch.channels.get(arg.strip())
        if target is None:
            return
        ch.variables["eavesdrop_target"] = target.uuid
        modes = {"1": "whisper_a", "2": "whisper_b", "3": "three_way", "0": "listen"}

        def keys() -> None:
            while ch.alive:
                digit = ch.take_dtmf(None)
                if digit in modes:
                    ch.variables["eavesdrop_mode"] = modes[digit]
                    headers = [
                        ("Event-Subclass", "eavesdrop::mode"),
                        ("Unique-ID", ch.uuid),
                        ("Eavesdrop-Target", target.uuid),
                        ("Eavesdrop-Mode", modes[digit]),
                    ]
                    ch.switch.fire("CUSTOM", headers)

        reader = gevent.spawn(keys)
        gevent.wait([ch.dead, target.dead], count=1)
        reader.kill()
