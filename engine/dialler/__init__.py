"""Outbound dialling: contact import, compliance, live statistics, abandon budget, pacing and its simulation."""
