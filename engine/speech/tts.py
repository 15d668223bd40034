"""Text-to-speech providers: turn prompt text into something FreeSWITCH can play.

The default renders with espeak-ng (offline) into a WAV cached by content hash, and FreeSWITCH
plays the file. Rendering once and caching beats mod_tts_commandline, which spawns a synthesiser
for every utterance on every call: menu prompts repeat on every call, and a file can be chained
into ``play_and_get_digits`` prompts (``file_string://a.wav!b.wav``), which ``speak`` cannot.
It needs hotline and FreeSWITCH to see the same ``tts.cache_dir`` (same host or a shared mount).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from pathlib import Path
from typing import Protocol

from gevent import subprocess
from gevent.event import AsyncResult

log = logging.getLogger(__name__)

# Our flows name languages as BCP-47 tags; espeak-ng names most voices by language code.
_ESPEAK_VOICES = {"en-GB": "en-gb", "en-US": "en-us", "zh-CN": "cmn", "zh": "cmn"}


class TtsError(Exception):
    """Synthesis failed; the message says why (missing binary, bad voice...)."""


class TtsProvider(Protocol):
    def render(self, text: str, language: str, voice: str | None = None) -> str:
        """A path or URL FreeSWITCH can ``playback`` for ``text``."""
        ...


class EspeakFileTts:
    """espeak-ng into ``cache_dir/<sha1>.wav`` (8 kHz would be resampled by FreeSWITCH anyway)."""

    def __init__(self, cache_dir: Path, binary: str = "espeak-ng", timeout: float = 10.0) -> None:
        self.cache_dir = cache_dir
        self.binary = binary
        self.timeout = timeout
        self._rendering: dict[Path, AsyncResult] = {}

    def render(self, text: str, language: str, voice: str | None = None) -> str:
        """The cached file for ``text``; concurrent calls for the same prompt share one synthesis."""
        espeak_voice = voice or _ESPEAK_VOICES.get(language, language.lower())
        key = hashlib.sha1(f"{espeak_voice}\0{text}".encode()).hexdigest()
        path = self.cache_dir / f"{key}.wav"
        if path.exists():
            return str(path)
        pending = self._rendering.get(path)
        if pending is not None:
            return pending.get()
        pending = self._rendering[path] = AsyncResult()
        try:
            self._synthesise(text, espeak_voice, path)
            pending.set(str(path))
        except TtsError as exc:
            pending.set_exception(exc)
            raise
        finally:
            del self._rendering[path]
        return str(path)

    def _synthesise(self, text: str, espeak_voice: str, path: Path) -> None:
        exe = shutil.which(self.binary)
        if exe is None:
            raise TtsError(f"{self.binary} is not installed (Debian package espeak-ng)")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        try:
            subprocess.run(
                [exe, "-v", espeak_voice, "-w", str(tmp), "--", text],
                check=True,
                capture_output=True,
                timeout=self.timeout,
            )
        except subprocess.CalledProcessError as exc:
            raise TtsError(f"{self.binary} -v {espeak_voice} failed: {exc.stderr.decode().strip()}") from exc
        except subprocess.TimeoutExpired as exc:
            raise TtsError(f"{self.binary} took longer than {self.timeout:g} s") from exc
        tmp.replace(path)
