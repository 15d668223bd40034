"""Failed-login throttling (no I/O, time is an argument).

A username that fails ``max_failures`` times within ``window`` seconds is locked for ``lockout``
seconds: further attempts are refused before the password is checked, so guessing costs the
attacker time and the server no scrypt work. A successful login clears the username's record.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    max_failures: int = 5
    window: float = 300.0
    lockout: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _swept_at: float = float("-inf")

    def retry_after(self, username: str, now: float) -> float | None:
        """Seconds until ``username`` may try again, or None when it may try now."""
        until = self._locked_until.get(username)
        if until is None:
            return None
        if until <= now:
            del self._locked_until[username]
            return None
        return until - now

    def failed(self, username: str, now: float) -> bool:
        """Record a failed attempt; True when it locks the username."""
        self._forget_stale(now)
        times = self._failures.setdefault(username, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        times.append(now)
        if len(times) < self.max_failures:
            return False
        del self._failures[username]
        self._locked_until[username] = now + self.lockout
        return True

    def succeeded(self, username: str) -> None:
        self._failures.pop(username, None)

    def _forget_stale(self, now: float) -> None:
        """Once per window, drop failures older than the window and expired locks, so memory is bounded
        by recent attempts even when an attacker sprays many usernames."""
        if now - self._swept_at < self.window:
            return
        self._swept_at = now
        self._locked_until = {name: until for name, until in self._locked_until.items() if until > now}
        for name in [n for n, times in self._failures.items() if times[-1] <= now - self.window]:
            del self._failures[name]
