#!/usr/bin/env python3
"""Azure uploads to Azurite with the per-file container SAS (Put Blob, blocks, refusals)."""
import time
import urllib.parse

from kbemu.backend_azure import container_sas
from rigclient import Rig, http
from tap import Tap, tests_in
from uploads import azure_put_blob, azure_put_blocks, azure_target

DATA = b"id,name\n1,a\n"


def test_abs_upload_params_shape(tap, rig):
    prepared = rig.prepare("orders.csv")
    params = prepared["absUploadParams"]
    tap.ok({"blobName", "accountName", "container", "absCredentials"} <= set(params), "absUploadParams fields")
    connection = params["absCredentials"]["SASConnectionString"]
    tap.ok(connection.startswith(f"BlobEndpoint={rig.env['KBSYNCD_AZURE_BLOB_ENDPOINT']};SharedAccessSignature="),
           "connection string points at Azurite")
    sas = urllib.parse.parse_qs(connection.split("SharedAccessSignature=", 1)[1])
    tap.eq((sas["sv"][0], sas["sr"][0]), ("2021-08-06", "c"), "container SAS, version 2021-08-06")


def test_put_blob_and_blocks(tap, rig):
    prepared = rig.prepare("orders.csv")
    tap.eq(azure_put_blob(prepared, DATA), 201, "Put Blob with the SAS")
    tap.eq(http("GET", f"{rig.url}/_emulator/files/{prepared['id']}").raw, DATA, "bytes recorded")
    blocks = rig.prepare("blocks.csv")
    tap.eq(azure_put_blocks(blocks, [b"id,name\n", b"1,a\n", b"2,b\n"]), 201, "Put Block x3 + Put Block List")
    tap.eq(http("GET", f"{rig.url}/_emulator/files/{blocks['id']}").raw, b"id,name\n1,a\n2,b\n",
           "blocks committed in order")
    job = rig.api("POST", "buckets/in.c-az/tables-async", {"name": "b", "dataFileId": blocks["id"]})
    tap.eq(rig.wait_job(job.json)["results"]["rowsCount"], 2, "block blob imports")


def test_bad_sas_refused(tap, rig):
    prepared = rig.prepare("orders.csv")
    _, sas = azure_target(prepared)
    container = prepared["absUploadParams"]["container"]
    query = urllib.parse.parse_qs(sas)
    tampered = sas.replace(urllib.parse.quote(query["sig"][0], safe=""), "AAAA" + "A" * 40)
    tap.eq(azure_put_blob(prepared, DATA, tampered), 403, "bad signature refused")
    expired = container_sas(container, "rwl", time.time() - 60, start_ts=time.time() - 3600)
    tap.eq(azure_put_blob(prepared, DATA, expired), 403, "expired SAS refused")
    read_only = container_sas(container, "r", time.time() + 600)
    tap.eq(azure_put_blob(prepared, DATA, read_only), 403, "read-only SAS cannot write")
    other = rig.prepare("other.csv")
    tap.eq(azure_put_blob(prepared, DATA, azure_target(other)[1]), 403,
           "another file's container SAS refused")
    blob_url, good = azure_target(prepared)
    missing_type = http("PUT", f"{blob_url}?{good}", DATA, {"Content-Type": "text/csv"}).status
    tap.eq(missing_type, 400, "Put Blob without x-ms-blob-type refused")


if __name__ == "__main__":
    tap = Tap()
    with Rig("azure", "--job-polls", "0") as rig:
        rig.create_bucket("az")
        tap.run([(name, lambda t, f=fn: f(t, rig)) for name, fn in tests_in(globals())])
    tap.finish()
