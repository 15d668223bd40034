"""Speech: text-to-speech and speech-recognition providers used by IVR flows."""
