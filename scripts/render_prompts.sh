#!/usr/bin/env bash
# Render the dialplan fallback's two messages (vars.xml: hotline_fallback_message, hotline_voicemail_message)
# once, with espeak-ng, to 8 kHz mono WAVs that dialplans/default.xml plays (freeswitch_conf/prompts/
# fallback.wav and voicemail.wav): no text-to-speech process per call. Re-renders only when a message or
# the voice (tts_voice) changed. Usage: scripts/render_prompts.sh [out_dir]  (default freeswitch_conf/prompts)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-freeswitch_conf/prompts}
vars=freeswitch_conf/vars.xml
value() { sed -n "s/.*cmd=\"set\" data=\"$1=\([^\"]*\)\".*/\1/p" "$vars" | head -n 1; }
command -v espeak-ng >/dev/null || { echo "render_prompts: espeak-ng is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
voice=$(value tts_voice)
mkdir -p "$out"
for name in fallback voicemail; do
  text=$(value "hotline_${name}_message")
  [[ -n "$text" ]] || { echo "render_prompts: $vars sets no hotline_${name}_message" >&2; exit 2; }
  wav="$out/$name.wav" stamp="$out/.$name.rendered"
  if [[ -f "$wav" && "$(cat "$stamp" 2>/dev/null)" == "$voice|$text" ]]; then
    continue
  fi
  espeak-ng -v "$voice" -w "$wav.src" -- "$text"
  # 8 kHz mono 16-bit: what the calls carry (PCMU/PCMA), so FreeSWITCH plays it without resampling
  python3 -W ignore::DeprecationWarning - "$wav.src" "$wav.tmp" <<'PY'
import audioop, sys, wave
with wave.open(sys.argv[1], "rb") as src:
    width, rate, frames = src.getsampwidth(), src.getframerate(), src.readframes(src.getnframes())
    if src.getnchannels() != 1:
        frames = audioop.tomono(frames, width, 0.5, 0.5)
frames = audioop.lin2lin(frames, width, 2)
frames, _ = audioop.ratecv(frames, 2, 1, rate, 8000, None)
with wave.open(sys.argv[2], "wb") as dst:
    dst.setnchannels(1)
    dst.setsampwidth(2)
    dst.setframerate(8000)
    dst.writeframes(frames)
PY
  mv "$wav.tmp" "$wav"
  rm -f "$wav.src"
  printf '%s' "$voice|$text" >"$stamp"
  echo "render_prompts: $wav"
done
