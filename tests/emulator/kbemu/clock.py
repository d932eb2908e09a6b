"""Timestamps in the format the Storage API uses (ISO-8601 with a numeric offset)."""
import time
from datetime import datetime, timedelta, timezone


def iso(ts=None):
    dt = datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S+0000")


def iso_z(ts):
    """AWS/Azure style: 2024-01-31T22:00:00Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_path(ts=None):
    return datetime.fromtimestamp(ts or time.time(), timezone.utc).strftime("%Y/%m/%d")


def later(seconds):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)
