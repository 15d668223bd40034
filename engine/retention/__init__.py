"""Retention of recorded audio: which recordings, voicemails and AMD samples are due for deletion (pure)."""
