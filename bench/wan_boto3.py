#!/usr/bin/env python3
"""The boto3 side of bench/wan.py: uploads one file to the rig the way a
Python client would, and prints one line of figures like bench/upload.lua.

    python3 bench/wan_boto3.py SPOOL_FILE        (the rig's exports in the environment)

Like client:upload_file(): POST files/prepare (the same body the client
sends: federationToken, isEncrypted), then boto3's upload_file with the
STS credentials of the answer, against the S3 endpoint the client uses
(KBSYNCD_S3_ENDPOINT: the link simulator in front of the emulator's S3
gate in front of moto).  TransferConfig() as shipped: 8 MiB parts, 10
threads, multipart from 8 MiB.  ms covers prepare + upload, as the
client's does; the import of boto3 is outside it (it is in the process's
wall time, which bench/wan.py reports too).
"""
import json
import os
import sys
import time
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def prepare(host, token, name, size):
    body = json.dumps({"name": name, "sizeBytes": size, "federationToken": True,
                       "isEncrypted": True, "isPermanent": False, "tags": ["kbsyncd"]}).encode()
    req = urllib.request.Request(f"{host.rstrip('/')}/v2/storage/files/prepare", data=body,
                                 method="POST", headers={"X-StorageApi-Token": token,
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def main():
    path = sys.argv[1]
    env = os.environ
    size = os.path.getsize(path)
    transfer = TransferConfig()
    started = time.monotonic()
    file = prepare(env["KBC_STORAGE_API_HOST"], env["KBC_STORAGE_API_TOKEN"], "bench.csv", size)
    p = file["uploadParams"]
    c = p["credentials"]
    s3 = boto3.client("s3", endpoint_url=env["KBSYNCD_S3_ENDPOINT"],
                      region_name=p.get("region") or file.get("region") or "us-east-1",
                      aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                      aws_session_token=c["SessionToken"],
                      config=Config(s3={"addressing_style": "path"}))
    extra = {"ACL": p.get("acl") or "private"}
    if p.get("x-amz-server-side-encryption"):
        extra["ServerSideEncryption"] = p["x-amz-server-side-encryption"]
    s3.upload_file(path, p["bucket"], p["key"], ExtraArgs=extra, Config=transfer)
    ms = max(1, int((time.monotonic() - started) * 1000))
    parts = -(-size // transfer.multipart_chunksize) if size >= transfer.multipart_threshold else 1
    print(f"provider=aws boto3={boto3.__version__} threads={transfer.max_request_concurrency} "
          f"part_mib={transfer.multipart_chunksize // (1024 * 1024)} bytes={size} parts={parts} "
          f"ms={ms} MB/s={size / 1e6 / (ms / 1000):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
