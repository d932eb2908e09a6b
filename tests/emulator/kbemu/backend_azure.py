"""Azure file storage: Azurite, one container per prepared file, a container SAS per file.

Azurite checks the SAS for real (signature, expiry, container, permissions),
so the client's Put Blob / Put Block / Put Block List go straight to it. The
emulator itself talks to Azurite with Shared Key auth (to create containers)
and with a read SAS (to fetch what was uploaded).
"""
import base64
import hashlib
import hmac
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate

from . import clock

ACCOUNT = "devstoreaccount1"
# Microsoft's published development-storage key for Azurite; not a secret.
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"
               "/K1SZFPTOtr/KBHBeksoGMGw==")
SAS_VERSION = "2021-08-06"
API_VERSION = "2021-08-06"
CREDENTIAL_SECONDS = 12 * 3600


def container_sas(container, permissions, expiry_ts, start_ts=None,
                  account=ACCOUNT, key=ACCOUNT_KEY):
    """A service SAS for a whole container (sr=c), version 2021-08-06.

    The string to sign is 16 lines: permissions, start, expiry, canonical
    resource, identifier, IP, protocol, version, resource type, snapshot time,
    encryption scope, then five response-header overrides (empty when unused).
    """
    start = clock.iso_z(start_ts) if start_ts else ""
    expiry = clock.iso_z(expiry_ts)
    lines = [permissions, start, expiry, f"/blob/{account}/{container}", "", "", "http,https",
             SAS_VERSION, "c", "", "", "", "", "", "", ""]
    signature = base64.b64encode(hmac.new(
        base64.b64decode(key), "\n".join(lines).encode(), hashlib.sha256).digest()).decode()
    query = {"sv": SAS_VERSION, "spr": "http,https", "se": expiry, "sr": "c",
             "sp": permissions, "sig": signature}
    if start:
        query["st"] = start
    return urllib.parse.urlencode(query)


def _shared_key_headers(method, path, query, content_length=0):
    """Shared Key auth for the emulator's own management calls."""
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": API_VERSION}
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    resource = f"/{ACCOUNT}{path}" + "".join(
        f"\n{k}:{v}" for k, v in sorted(query.items()))
    to_sign = "\n".join([method, "", "", str(content_length) if content_length else "", "", "",
                         "", "", "", "", "", ""]) + "\n" + canonical_headers + resource
    signature = base64.b64encode(hmac.new(
        base64.b64decode(ACCOUNT_KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
    headers["Authorization"] = f"SharedKey {ACCOUNT}:{signature}"
    return headers


class AzureBackend:
    provider = "azure"
    region = "northeurope"

    def __init__(self, azurite_url):
        self.azurite_url = azurite_url.rstrip("/")
        self.blob_endpoint = f"{self.azurite_url}/{ACCOUNT}"

    def _create_container(self, container):
        # http.client rather than urllib: urllib would add a form Content-Type
        # to the PUT, which is part of the Shared Key string to sign.
        path = f"/{ACCOUNT}/{container}"
        target = urllib.parse.urlsplit(self.azurite_url)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        try:
            headers = _shared_key_headers("PUT", path, {"restype": "container"})
            headers["Content-Length"] = "0"
            connection.request("PUT", f"{path}?restype=container", body=b"", headers=headers)
            response = connection.getresponse()
            detail = response.read()
        finally:
            connection.close()
        if response.status != 201:
            raise RuntimeError(f"Azurite refused to create container {container}: "
                               f"{response.status} {detail[:300]!r}")

    def prepare(self, stored, project_id):
        container = f"exp-15-files-{project_id}-{stored.id}-{time.strftime('%Y-%m-%d', time.gmtime())}"
        self._create_container(container)
        expiry = time.time() + CREDENTIAL_SECONDS
        sas = container_sas(container, "rwl", expiry)
        stored.location = {"container": container, "blobName": stored.name}
        stored.upload_params = {"absUploadParams": {
            "blobName": stored.name, "accountName": ACCOUNT, "container": container,
            "absCredentials": {
                "SASConnectionString": f"BlobEndpoint={self.blob_endpoint};SharedAccessSignature={sas}",
                "expiration": clock.iso(expiry),
            },
        }}
        return stored.upload_params

    def read_credentials(self, stored):
        params = stored.upload_params["absUploadParams"]
        return {"absPath": {"container": params["container"], "name": params["blobName"]},
                "absCredentials": params["absCredentials"]}

    def read(self, stored):
        container = stored.location["container"]
        sas = container_sas(container, "r", time.time() + 600)
        blob = urllib.parse.quote(stored.location["blobName"])
        try:
            with urllib.request.urlopen(f"{self.blob_endpoint}/{container}/{blob}?{sas}",
                                        timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def describe(self):
        return {"blobEndpoint": self.blob_endpoint}
