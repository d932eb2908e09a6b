#!/usr/bin/env python3
"""S3 uploads through moto with signature checks on, per-file STS credentials and SSE."""
from rigclient import Rig, http
from tap import Tap, tests_in
from uploads import s3_multipart, s3_put

DATA = b"id,name\n1,a\n"


def test_upload_params_shape(tap, rig):
    prepared = rig.prepare("orders.csv")
    params = prepared["uploadParams"]
    tap.ok({"bucket", "key", "acl", "region", "credentials", "x-amz-server-side-encryption"} <= set(params),
           "uploadParams fields")
    creds = params["credentials"]
    tap.ok(creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"] and creds["Expiration"],
           "STS credentials with session token and expiration")
    tap.eq((prepared["provider"], prepared["region"]), ("aws", "us-east-1"), "provider and region")
    tap.ok("x-amz-server-side-encryption" not in rig.prepare("p.csv", isEncrypted=False)["uploadParams"],
           "no SSE field for an unencrypted file")


def test_signed_put_with_the_file_credentials(tap, rig):
    prepared = rig.prepare("orders.csv")
    tap.eq(s3_put(rig, prepared, DATA), 200, "PutObject with SSE and the session token succeeds")
    stored = http("GET", f"{rig.url}/_emulator/files/{prepared['id']}")
    tap.eq(stored.raw, DATA, "the emulator reads back exactly the uploaded bytes")


def test_refusals(tap, rig):
    prepared = rig.prepare("orders.csv")
    tap.eq(s3_put(rig, prepared, DATA, secret="wrong" * 8), 403, "wrong secret refused")
    tap.ok(s3_put(rig, prepared, DATA, with_token=False) in (400, 403), "missing session token refused")
    tap.eq(s3_put(rig, prepared, DATA, sse=False), 403, "encrypted file without SSE header refused")
    other_key = prepared["uploadParams"]["key"] + "_part0001"
    tap.eq(s3_put(rig, prepared, DATA, key=other_key), 403, "credentials only cover the file's key")
    other = rig.prepare("other.csv")
    tap.eq(s3_put(rig, other, DATA, key=prepared["uploadParams"]["key"]), 403,
           "another file's credentials cannot write this key")
    plain = rig.prepare("plain.csv", isEncrypted=False)
    tap.eq(s3_put(rig, plain, DATA, sse=False), 200, "unencrypted file needs no SSE header")


def test_s3_gate_faults(tap, rig):
    prepared = rig.prepare("f.csv")
    rig.control("PUT", "faults", {"script": [{"class": "s3", "kind": "503-retry-after"}]})
    tap.eq(s3_put(rig, prepared, DATA), 503, "an injected S3 503 reaches the client")
    tap.eq(s3_put(rig, prepared, DATA), 200, "the retry succeeds")


def test_multipart_upload(tap, rig):
    prepared = rig.prepare("big.csv")
    part1 = b"id,name\n" + b"1,aaaaaaaa\n" * (5 * 1024 * 1024 // 11 + 1)
    tap.eq(s3_multipart(rig, prepared, [part1, b"2,b\n"]), 200, "multipart upload with SSE on initiate")
    tap.eq(s3_multipart(rig, rig.prepare("big2.csv"), [b"x"], sse=False), 403,
           "multipart initiate without SSE refused for an encrypted file")
    job = rig.api("POST", "buckets/in.c-up/tables-async", {"name": "big", "dataFileId": prepared["id"]})
    final = rig.wait_job(job.json)
    tap.eq((final["status"], final["results"]["rowsCount"]), ("success", len(part1.splitlines())),
           "the multipart object imports whole")


if __name__ == "__main__":
    tap = Tap()
    with Rig("aws", "--job-polls", "0") as rig:
        rig.create_bucket("up")
        tap.run([(name, lambda t, f=fn: f(t, rig)) for name, fn in tests_in(globals())])
    tap.finish()
