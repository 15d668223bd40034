"""CTI: the live per-agent feed that agent desktops subscribe to (screen pops, state changes)."""

from engine.cti.hub import FeedMessage, Hub, Subscription
from engine.cti.pop import ScreenPop

__all__ = ["FeedMessage", "Hub", "ScreenPop", "Subscription"]
