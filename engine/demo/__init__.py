"""The demo: hotline on the built-in FreeSWITCH emulator with synthetic agents and callers."""
