"""Prometheus metrics: every counter, gauge and histogram hotline exports, defined in one place."""

from engine.metrics.registry import LiveSample, Metrics, OccupancySample, QueueSample

__all__ = ["LiveSample", "Metrics", "OccupancySample", "QueueSample"]
