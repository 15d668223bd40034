"""gevent I/O for the Event Socket: the inbound control connection and the outbound-socket server."""

from engine.transport.connection import (
    AuthenticationFailed,
    ChannelGone,
    CommandFailed,
    CommandTimeout,
    Connection,
    ConnectionLost,
    ESLError,
)
from engine.transport.inbound import InboundClient
from engine.transport.outbound import NotFreeSwitch, OutboundCall, OutboundServer

__all__ = [
    "AuthenticationFailed",
    "ChannelGone",
    "CommandFailed",
    "CommandTimeout",
    "Connection",
    "ConnectionLost",
    "ESLError",
    "InboundClient",
    "NotFreeSwitch",
    "OutboundCall",
    "OutboundServer",
]
