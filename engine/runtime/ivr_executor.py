"""Carries out the IVR interpreter's non-terminal actions on a live call over ESL.

The interpreter (:mod:`engine.ivr.interpreter`) decides what happens next; this module maps one
action to FreeSWITCH applications and turns their completion events back into results:

=================  ==========================================================================
Play / Say         ``playback`` (Say text is rendered by the TTS provider to a cached file)
CollectDigits      ``play_and_get_digits`` (one attempt; retries are the interpreter's job)
Recognise          ``play_and_detect_speech`` with the configured ASR engine (NLSML result)
Record             beep, then ``record <path> <max> <threshold> <silence>``
Lookup             the CRM, in-process (no FreeSWITCH involved)
=================  ==========================================================================
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from engine.config.model import Speech
from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.ivr import actions as a
from engine.metrics import Metrics
from engine.speech.tts import TtsProvider
from engine.transport import ESLError, OutboundCall

log = logging.getLogger(__name__)

_DOCUMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

DIGITS_VAR = "hotline_digits"
BEEP = "tone_stream://%(250,0,800)"
# Wide enough to let the interpreter judge every keyed string itself (nomatch is its decision).
ANY_DIGITS = r"^[0-9*#ABCD]+$"
STEP_TIMEOUT_MARGIN = 30.0
UNPLAYED = {"FILE NOT FOUND": "not_found", "PLAYBACK ERROR": "error"}
"""mod_dptools' playback responses for a prompt it did not play -> the metric's ``reason``."""


Lookup = Callable[[str, str], dict]


class IvrExecutor:
    """Performs IVR actions on one call."""

    def __init__(
        self,
        call: OutboundCall,
        tts: TtsProvider,
        lookup: Lookup,
        recordings_dir: Path,
        speech: Speech,
        fax_dir: Path,
        fax_dial: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.call = call
        self.metrics = metrics
        self.tts = tts
        self.lookup = lookup
        self.recordings_dir = recordings_dir
        self.speech = speech
        self.fax_dir = fax_dir
        self.fax_dial = fax_dial
        self._known: dict[tuple[str, str], dict] = {}  # lookups answered before the flow asked (remember)

    def remember(self, kind: str, key: str, found: dict) -> None:
        """Answer the flow's ``lookup`` of ``kind`` by ``key`` with ``found`` (a copy), without asking the
        CRM again: the session read the caller's customer when the call arrived."""
        self._known[kind, key] = found

    def perform(self, action: a.Action) -> a.Result:
        match action:
            case a.Play() | a.Say():
                for item in self._files((action,)):
                    done = self.call.execute("playback", item, timeout=STEP_TIMEOUT_MARGIN + 600)
                    self._check_played(item, done.get("Application-Response"))
                return a.PlayResult()
            case a.CollectDigits():
                return self._collect(action)
            case a.Recognise():
                return self._recognise(action)
            case a.Lookup():
                known = self._known.get((action.kind, action.key))
                return a.LookupResult(dict(known) if known is not None else self.lookup(action.kind, action.key))
            case a.Record():
                return self._record(action)
            case a.SendFax():
                return self._fax(action)
        raise TypeError(f"not an action the executor performs: {action!r}")

    def _check_played(self, item: str, response: str) -> None:
        """FreeSWITCH could not open or play a prompt (mod_dptools' ``FILE NOT FOUND`` / ``PLAYBACK
        ERROR``): say so in the log and in metrics; the step ends and the flow goes on (never the call)."""
        if response in UNPLAYED:
            log.warning("call %s: FreeSWITCH could not play %s (%s)", self.call.uuid, item[:200], response)
            if self.metrics is not None:
                self.metrics.prompts_unplayed.labels(UNPLAYED[response]).inc()

    def _files(self, prompts: tuple[a.Prompt, ...]) -> list[str]:
        files: list[str] = []
        for prompt in prompts:
            if isinstance(prompt, a.Play):
                files.extend(prompt.items)
            else:
                files.append(self.tts.render(_spoken_text(prompt), prompt.language, prompt.voice))
        return files

    def _prompt_arg(self, prompts: tuple[a.Prompt, ...]) -> str:
        files = self._files(prompts)
        if not files:
            return "silence_stream://250"
        return files[0] if len(files) == 1 else "file_string://" + "!".join(files)

    def _collect(self, action: a.CollectDigits) -> a.DigitsResult:
        args = " ".join(
            [
                str(action.min_digits),
                str(action.max_digits),
                "1",
                str(action.timeout_ms),
                action.terminators or "none",
                self._prompt_arg(action.prompts),
                "silence_stream://1",
                DIGITS_VAR,
                ANY_DIGITS,
                str(action.inter_digit_ms),
            ]
        )
        timeout = STEP_TIMEOUT_MARGIN + (action.timeout_ms + action.inter_digit_ms * action.max_digits) / 1000
        done = self.call.execute("play_and_get_digits", args, timeout=timeout)
        digits = done.variable(DIGITS_VAR)
        terminator = done.variable("read_terminator_used") or None
        return a.DigitsResult(digits, terminator)

    def _recognise(self, action: a.Recognise) -> a.SpeechResult | a.DigitsResult:
        """Speech through FreeSWITCH's detect_speech (``speech.asr: detect_speech``, engine
        ``speech.asr_engine``: pocketsphinx, unimrcp:<profile>...), or keys only (``asr: none``)."""
        if self.speech.asr == "none":
            if not action.dtmf_digits:
                self.call.execute("playback", self._prompt_arg(action.prompts), timeout=STEP_TIMEOUT_MARGIN + 600)
                return a.SpeechResult("", 0.0)
            keys = a.CollectDigits(action.prompts, 1, action.dtmf_digits, action.timeout_ms, 3000, "#")
            return self._collect(keys)
        grammar = action.grammar or "hotline_keywords:" + ",".join(action.keywords)
        args = f"{self._prompt_arg(action.prompts)} detect:{self.speech.asr_engine} {grammar}"
        done = self.call.execute("play_and_detect_speech", args, timeout=STEP_TIMEOUT_MARGIN + action.timeout_ms / 1000)
        result = parse_nlsml(done.variable("detect_speech_result"))
        if isinstance(result, a.DigitsResult) and not action.dtmf_digits:
            return a.SpeechResult("", 0.0)  # keys where only speech is accepted: heard nothing usable
        return result

    def _record(self, action: a.Record) -> a.RecordResult:
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", action.path_hint) or "message"
        path = self.recordings_dir / f"{safe}-{self.call.uuid or uuid.uuid4()}.wav"
        if action.beep:
            self.call.execute("playback", BEEP, timeout=STEP_TIMEOUT_MARGIN)
        args = f"{path} {action.max_seconds} {action.silence_threshold} {action.silence_seconds}"
        done = self.call.execute("record", args, timeout=STEP_TIMEOUT_MARGIN + action.max_seconds)
        seconds = float(done.variable("record_seconds") or 0)
        return a.RecordResult(str(path), seconds)

    def _fax(self, action: a.SendFax) -> a.FaxResult:
        """mod_spandsp's ``txfax``: on this line, or on a new call to the number the caller keyed in
        (``calls.fax_dial``); documents are read from ``fax_dir``."""
        if not _DOCUMENT.fullmatch(action.document):  # rendered from flow variables: no path of the caller's
            log.warning("fax document %r refused: a file name in fax_dir is expected", action.document[:64])
            return a.FaxResult(False)
        document = str(self.fax_dir / action.document)
        if not action.to_number:
            done = self.call.execute("txfax", document, timeout=STEP_TIMEOUT_MARGIN + 600)
            return a.FaxResult(done.variable("fax_success") == "1")
        try:
            dial = dialstring.from_template(self.fax_dial, dialstring.typed_number(action.to_number), "fax number")
            self.call.bgapi(
                *dialstring.originate({"origination_caller_id_number": "hotline"}, dial, "txfax", document),
                timeout=120,
            )
        except (ESLError, UnsafeValue) as exc:
            log.info("fax to %s failed: %s", action.to_number, exc)
            return a.FaxResult(False)
        return a.FaxResult(True)


def _spoken_text(say: a.Say) -> str:
    """What the synthesiser should read: digits one by one, everything else as written."""
    if say.say_as == "digits":
        return " ".join(say.text)
    return say.text


def parse_nlsml(result: str) -> a.SpeechResult | a.DigitsResult:
    """An NLSML ``detect_speech_result``: words heard (with confidence 0..1), or keys pressed
    (``<input mode="dtmf">``); an empty SpeechResult when nothing was heard."""
    if not result.strip():
        return a.SpeechResult("", 0.0)
    try:
        root = ElementTree.fromstring(result)
    except ElementTree.ParseError:
        log.warning("unparseable speech result: %r", result[:200])
        return a.SpeechResult("", 0.0)
    interpretation = root.find(".//interpretation")
    if interpretation is None:
        return a.SpeechResult("", 0.0)
    spoken = interpretation.find(".//input")
    text = (spoken.text or "").strip() if spoken is not None else ""
    if spoken is not None and spoken.get("mode") == "dtmf":
        return a.DigitsResult(text)
    raw = float(interpretation.get("confidence", "0") or 0)
    return a.SpeechResult(text, raw / 100 if raw > 1 else raw)
