#!/usr/bin/env python3
"""The emulator's GCS JSON upload API: media, multipart, resumable, bearer checks, refresh."""
import time

from rigclient import Rig, http
from tap import Tap, tests_in
from uploads import (gcs_media, gcs_multipart, gcs_put_chunk, gcs_resumable, gcs_start_resumable,
                     gcs_url)

DATA = b"id,name\n1,a\n"
QUANTUM = 256 * 1024


def stored(rig, prepared):
    return http("GET", f"{rig.url}/_emulator/files/{prepared['id']}").raw


def test_gcs_upload_params_shape(tap, rig):
    params = rig.prepare("orders.csv")["gcsUploadParams"]
    tap.ok({"projectId", "bucket", "key", "access_token", "expires_in", "token_type"} <= set(params),
           "gcsUploadParams fields")
    tap.eq(params["token_type"], "Bearer", "bearer token")


def test_media_and_multipart(tap, rig):
    prepared = rig.prepare("m.csv")
    reply = gcs_media(rig, prepared, DATA)
    tap.eq((reply.status, reply.json["size"]), (200, str(len(DATA))), "media upload answers the object")
    tap.eq(stored(rig, prepared), DATA, "media bytes recorded for the file")
    prepared = rig.prepare("mp.csv")
    tap.eq(gcs_multipart(rig, prepared, DATA).status, 200, "multipart/related upload")
    tap.eq(stored(rig, prepared), DATA, "multipart bytes recorded")


def test_resumable_with_committed_offset(tap, rig):
    data = bytes(range(256)) * (3 * QUANTUM // 256) + b"tail"
    prepared = rig.prepare("r.bin")
    reply, session = gcs_start_resumable(rig, prepared)
    tap.ok(reply.status == 200 and "upload_id=" in session, "initiate answers a session URI")
    first = gcs_put_chunk(session, data[:QUANTUM], 0)
    tap.eq((first.status, first.headers.get("Range")), (308, f"bytes=0-{QUANTUM - 1}"),
           "308 with the committed range")
    status = http("PUT", session, b"", {"Content-Range": "bytes */*"})
    tap.eq((status.status, status.headers.get("Range")), (308, f"bytes=0-{QUANTUM - 1}"),
           "status query reports the committed offset")
    odd = gcs_put_chunk(session, data[QUANTUM:QUANTUM + 1000], QUANTUM)
    tap.eq(odd.status, 400, "a non-final chunk that is not a multiple of 256 KiB is refused")
    gap = gcs_put_chunk(session, data[2 * QUANTUM:3 * QUANTUM], 2 * QUANTUM)
    tap.eq(gap.status, 400, "a chunk beyond the committed offset is refused")
    overlap = gcs_put_chunk(session, data[0:2 * QUANTUM], 0)
    tap.eq(overlap.headers.get("Range"), f"bytes=0-{2 * QUANTUM - 1}", "a resent overlapping chunk is accepted")
    final = gcs_put_chunk(session, data[2 * QUANTUM:], 2 * QUANTUM, len(data))
    tap.eq((final.status, final.json["size"]), (200, str(len(data))), "final chunk with the total")
    tap.eq(stored(rig, prepared), data, "resumable bytes recorded exactly")
    whole = rig.prepare("w.csv")
    tap.eq(gcs_resumable(rig, whole, DATA * 50000).status, 200, "a multi-chunk resumable upload")


def test_bearer_checks(tap, rig):
    prepared = rig.prepare("b.csv")
    tap.eq(gcs_media(rig, prepared, DATA, token="ya29.wrong").status, 401, "wrong bearer token: 401")
    tap.eq(http("POST", gcs_url(rig, prepared, "media"), DATA).status, 401, "no bearer token: 401")
    other = rig.prepare("o.csv")
    tap.eq(gcs_media(rig, other, DATA, token=prepared["gcsUploadParams"]["access_token"]).status, 403,
           "a token is good for its own file only")


def test_expiry_and_refresh(tap, rig):
    rig.control("PUT", "config", {"gcsTokenTtl": 0.5})
    prepared = rig.prepare("e.csv")
    tap.eq(prepared["gcsUploadParams"]["expires_in"], 0, "expires_in follows the configured lifetime")
    deadline, status = time.monotonic() + 5, None
    while time.monotonic() < deadline:
        status = gcs_start_resumable(rig, prepared)[0].status
        if status == 401:
            break
        time.sleep(0.1)
    tap.eq(status, 401, "an expired token is refused with 401")
    rig.control("PUT", "config", {"gcsTokenTtl": 3599})
    refreshed = rig.api("PUT", f"files/{prepared['id']}/refresh").json
    tap.eq(gcs_media(rig, refreshed, DATA).status, 200, "refresh gives a working token")


if __name__ == "__main__":
    tap = Tap()
    with Rig("gcp") as rig:
        tap.run([(name, lambda t, f=fn: f(t, rig)) for name, fn in tests_in(globals())])
    tap.finish()
