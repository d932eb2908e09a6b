"""The official call sequence of a folder sync, against a rig of the given provider:
verify -> create bucket -> prepare -> upload -> tables-async -> poll -> prepare ->
upload a changed file -> import-async (full load) -> poll -> data-preview."""
import gzip

from rigclient import Rig
from tap import Tap
from uploads import upload

FIRST = b"id,name\r\n1,alpha\r\n2,\"two\nlines\"\r\n"
CHANGED = "id,name,note\n1,alpha,x\n3,gamma,\"with \"\"quotes\"\"\"\n".encode()


def run_sequence(provider):
    tap = Tap()
    with Rig(provider) as rig:
        verify = rig.api("GET", "tokens/verify")
        tap.eq(verify.status, 200, "verify answers 200")
        tap.eq(verify.json["owner"]["fileStorageProvider"], provider,
               "owner.fileStorageProvider names the run's provider")

        bucket = rig.api("POST", "buckets", {"name": "sales", "stage": "in"})
        tap.eq((bucket.status, bucket.json["id"]), (201, "in.c-sales"), "bucket created as in.c-sales")

        prepared = rig.prepare("orders.csv", sizeBytes=len(FIRST))
        tap.eq(prepared["provider"], provider, "prepare names the provider")
        tap.ok(upload(rig, prepared, FIRST) in (200, 201), "first file uploaded to the cloud")

        created = rig.api("POST", "buckets/in.c-sales/tables-async",
                          {"name": "orders", "dataFileId": prepared["id"]})
        tap.eq((created.status, created.json["status"]), (202, "waiting"), "tables-async answers 202 waiting")
        job = rig.wait_job(created.json)
        tap.eq(job["status"], "success", "create job succeeds")
        tap.eq(job["results"]["columns"], ["id", "name"], "job results carry the table's columns")

        body = gzip.compress(CHANGED)
        prepared = rig.prepare("orders.csv.gz", sizeBytes=len(body))
        tap.ok(upload(rig, prepared, body) in (200, 201), "changed gzipped file uploaded")
        imported = rig.api("POST", "tables/in.c-sales.orders/import-async",
                           {"dataFileId": str(prepared["id"]), "incremental": False})
        tap.eq(imported.status, 202, "import-async answers 202")
        job = rig.wait_job(imported.json)
        tap.eq(job["status"], "success", "full load job succeeds")
        tap.eq(job["results"]["importedColumns"], ["id", "name", "note"], "importedColumns lists the header")

        preview = rig.api("GET", "tables/in.c-sales.orders/data-preview")
        tap.eq(preview.text, '"id","name","note"\n"1","alpha","x"\n"3","gamma","with ""quotes"""\n',
               "data-preview shows only the new content (full load truncated)")
        table = rig.api("GET", "tables/in.c-sales.orders").json
        tap.eq((table["rowsCount"], table["columns"]), (2, ["id", "name", "note"]),
               "table detail shows the new row count and the added column")
    tap.finish()
