#!/usr/bin/env python3
"""Fault injection: every kind, scripted and random, reproducible for a seed."""
import time
import urllib.error
from http.client import RemoteDisconnected

from rigclient import Rig, http
from tap import Tap, tests_in
from uploads import gcs_media


def script(rig, *entries, **extra):
    body = {"rate": 0, "script": list(entries)}
    body.update(extra)
    return rig.control("PUT", "faults", body)


def test_status_kinds(tap, rig):
    script(rig, *({"class": "buckets", "kind": k} for k in
                  ("500", "502", "503-retry-after", "504", "429-retry-after", "maintenance")))
    replies = [rig.api("GET", "buckets") for _ in range(7)]
    tap.eq([r.status for r in replies], [500, 502, 503, 504, 429, 503, 200], "scripted statuses in order")
    tap.eq(replies[0].json["code"], "internal", "500 carries a JSON error body")
    tap.ok(replies[1].headers["Content-Type"].startswith("text/html"), "502 looks like a proxy page")
    tap.eq(replies[2].headers.get("Retry-After"), "1", "503 with Retry-After")
    tap.eq(replies[3].headers.get("Retry-After"), None, "504 without Retry-After")
    tap.eq(replies[4].headers.get("Retry-After"), "1", "429 with Retry-After")
    tap.ok(replies[5].json["status"] == "maintenance" and replies[5].headers.get("Retry-After"),
           "maintenance body and Retry-After")


def test_dropped_connection(tap, rig):
    script(rig, {"class": "tokens", "kind": "drop"})
    try:
        rig.api("GET", "tokens/verify")
        tap.ok(False, "dropped connection gives no answer")
    except (urllib.error.URLError, RemoteDisconnected, ConnectionError):
        tap.ok(True, "dropped connection gives no answer")
    tap.eq(rig.api("GET", "tokens/verify").status, 200, "the next request is served")


def test_slow_answer(tap, rig):
    script(rig, {"class": "index", "kind": "slow"}, slowMs=400)
    started = time.monotonic()
    reply = rig.api("GET", "")
    tap.ok(reply.status == 200 and time.monotonic() - started >= 0.4, "slow answer still succeeds, late")


def test_post_committed_then_500(tap, rig):
    script(rig, {"method": "POST", "path": "^/v2/storage/buckets$", "kind": "commit-then-500"})
    first = rig.api("POST", "buckets", {"name": "retry"})
    tap.eq(first.status, 500, "the create answers 500")
    retry = rig.api("POST", "buckets", {"name": "retry"})
    tap.eq((retry.status, retry.json["code"]), (400, "storage.buckets.alreadyExists"),
           "the retry meets already exists")
    tap.eq(rig.api("GET", "buckets/in.c-retry").status, 200, "the bucket was created")


def test_job_that_never_finishes(tap, rig):
    rig.create_bucket("stuck")
    prepared = rig.prepare("s.csv")
    gcs_media(rig, prepared, b"a\n1\n")
    script(rig, {"class": "tables", "kind": "stuck-job"})
    job = rig.api("POST", "buckets/in.c-stuck/tables-async", {"name": "t", "dataFileId": prepared["id"]}).json
    statuses = {rig.api("GET", f"jobs/{job['id']}").json["status"] for _ in range(10)}
    tap.eq(statuses, {"waiting", "processing"}, "a stuck job never leaves waiting/processing")


def test_gcs_upload_faults(tap, rig):
    prepared = rig.prepare("g.csv")
    script(rig, {"class": "gcs", "kind": "503"})
    tap.eq(gcs_media(rig, prepared, b"a\n").status, 503, "GCS upload endpoint can fail")
    tap.eq(gcs_media(rig, prepared, b"a\n").status, 200, "and works again")


def statuses(rig, seed, count=40):
    rig.control("PUT", "faults", {"rate": 0.3, "seed": seed, "script": [],
                                  "kinds": ["500", "503", "504", "429"]})
    return [rig.api("GET", "buckets").status for _ in range(count)]


def test_same_seed_same_sequence(tap, rig):
    first = statuses(rig, 42)
    tap.eq(statuses(rig, 42), first, "same seed gives the same status sequence")
    tap.ok(statuses(rig, 43) != first, "another seed gives another sequence")
    tap.ok(200 in first and any(s != 200 for s in first), "rate 0.3 mixes faults and successes")
    history = rig.control("GET", "faults").json["history"]
    tap.ok(history and all(h["class"] == "buckets" for h in history), "fault history is reported")


def test_emulator_paths_never_faulted(tap, rig):
    rig.control("PUT", "faults", {"rate": 1.0, "kinds": ["500"], "script": []})
    tap.eq([rig.control("GET", "requests").status for _ in range(10)], [200] * 10,
           "/_emulator/* answers under rate 1")
    tap.eq(rig.api("GET", "buckets").status, 500, "while the API fails every call")


def test_rates_per_endpoint_class(tap, rig):
    rig.control("PUT", "faults", {"rate": 0, "rates": {"jobs": 1.0}, "kinds": ["502"], "script": []})
    tap.eq((rig.api("GET", "buckets").status, rig.api("GET", "jobs/1").status), (200, 502),
           "a rate for one class leaves the others alone")


def test_environment_sets_rate_and_seed(tap, _rig):
    with Rig("gcp", env={"KBSYNCD_FAULT_RATE": "1", "KBSYNCD_FAULT_SEED": "99"}) as other:
        config = other.control("GET", "faults").json
        tap.eq((config["rate"], str(config["seed"])), (1.0, "99"), "KBSYNCD_FAULT_RATE/SEED reach the emulator")
        try:
            other.api("GET", "buckets")
        except (urllib.error.URLError, RemoteDisconnected, ConnectionError):
            pass  # a dropped connection is one of the faults
        logged = other.control("GET", "requests").json["requests"]
        tap.ok(logged and logged[0]["fault"], "and apply to the first API call", logged)
        tap.eq(http("GET", f"{other.url}/_emulator/health").status, 200, "health is never faulted")


if __name__ == "__main__":
    tap = Tap()
    with Rig("gcp") as rig:
        def fresh(function):
            def run(t):
                rig.reset()
                function(t, rig)
            return run
        tap.run([(name, fresh(fn)) for name, fn in tests_in(globals())])
    tap.finish()
