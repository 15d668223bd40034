"""Outbound campaigns on gevent: the dialler connection, one dial's life, the per-campaign pacing loop."""
