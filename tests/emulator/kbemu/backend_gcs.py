"""GCP file storage: the emulator serves the GCS JSON upload API itself.

Supported: uploadType=media, multipart (multipart/related: JSON metadata,
then the bytes) and resumable (initiate, PUT chunks that are multiples of
256 KiB with `Content-Range: bytes a-b/*`, a final chunk with the total,
308 + `Range: bytes=0-N` for the committed offset, status queries with
`bytes */*`). Every initiating request needs the file's bearer token; tokens
expire after a configurable lifetime (401), `files/{id}/refresh` issues a new
one. A resumable session URI is itself the credential (as on GCS): chunk PUTs
need no Authorization header, but one that is sent must be valid.
"""
import json
import re
import secrets
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP

from .http_types import Response

FILES_BUCKET = "kbc-emulator-files"
PROJECT = "kbsyncd-emulator"
CHUNK_QUANTUM = 256 * 1024
_RANGE = re.compile(r"^bytes (\*|(\d+)-(\d+))/(\*|\d+)$")


def gcs_error(status, message, reason="invalid"):
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}
    return Response(status, json.dumps(body).encode())


class _Session:
    def __init__(self, file_id, name):
        self.file_id = file_id
        self.name = name
        self.data = bytearray()
        self.finished = False


class GcsBackend:
    provider = "gcp"
    region = "europe-west3"

    def __init__(self, endpoint_url, token_ttl):
        self.endpoint_url = endpoint_url
        self.token_ttl = token_ttl
        self.lock = threading.Lock()
        self.tokens = {}     # access token -> (file id, expiry time)
        self.objects = {}    # object name -> bytes
        self.sessions = {}   # upload id -> _Session
        self.keys = {}       # file id -> object name

    # --- Storage API side -------------------------------------------------
    def _issue_token(self, file_id):
        token = "ya29.emulator-" + secrets.token_hex(12)
        with self.lock:
            self.tokens[token] = (file_id, time.time() + self.token_ttl)
        return token

    def _params(self, stored):
        return {"gcsUploadParams": {
            "projectId": PROJECT, "bucket": FILES_BUCKET, "key": stored.location["key"],
            "access_token": self._issue_token(stored.id),
            "expires_in": int(self.token_ttl), "token_type": "Bearer",
        }}

    def prepare(self, stored, project_id):
        from . import clock
        key = f"exp-15/{project_id}/files/{clock.date_path()}/{stored.id}.{stored.name}"
        stored.location = {"bucket": FILES_BUCKET, "key": key}
        self.keys[stored.id] = key
        stored.upload_params = self._params(stored)
        return stored.upload_params

    def refresh(self, stored):
        stored.upload_params = self._params(stored)
        return stored.upload_params

    def read_credentials(self, stored):
        params = self._params(stored)["gcsUploadParams"]
        return {"gcsPath": {"bucket": FILES_BUCKET, "key": stored.location["key"]},
                "gcsCredentials": {"access_token": params["access_token"],
                                   "expires_in": params["expires_in"],
                                   "token_type": "Bearer", "projectId": PROJECT}}

    def read(self, stored):
        return self.objects.get(stored.location["key"])

    def describe(self):
        return {"gcsEndpoint": self.endpoint_url}

    # --- GCS side -----------------------------------------------------------
    def _authorise(self, headers, name):
        """None when the bearer token may write `name`, else the error response."""
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return gcs_error(401, "Anonymous caller does not have storage.objects.create access.",
                             "required")
        with self.lock:
            grant = self.tokens.get(auth[7:].strip())
        if grant is None:
            return gcs_error(401, "Invalid Credentials", "authError")
        file_id, expiry = grant
        if time.time() >= expiry:
            return gcs_error(401, "Invalid Credentials (token expired)", "authError")
        if self.keys.get(file_id) != name:
            return gcs_error(403, "The access token does not grant access to this object.",
                             "forbidden")
        return None

    def _object_resource(self, name, size):
        return Response(200, json.dumps({
            "kind": "storage#object", "id": f"{FILES_BUCKET}/{name}/1", "name": name,
            "bucket": FILES_BUCKET, "size": str(size), "generation": "1",
            "contentType": "application/octet-stream"}).encode())

    def handle_upload(self, request, bucket):
        """POST /upload/storage/v1/b/{bucket}/o?uploadType=..."""
        if bucket != FILES_BUCKET:
            return gcs_error(404, f"The specified bucket does not exist: {bucket}", "notFound")
        upload_type = request.query.get("uploadType", "")
        if upload_type == "media":
            return self._store(request, request.query.get("name", ""), request.body)
        if upload_type == "multipart":
            return self._multipart(request)
        if upload_type == "resumable":
            return self._initiate(request, bucket)
        return gcs_error(400, f"Unsupported uploadType: {upload_type!r}")

    def _store(self, request, name, data):
        if not name:
            return gcs_error(400, "Required parameter: name", "required")
        denied = self._authorise(request.headers, name)
        if denied:
            return denied
        self.objects[name] = bytes(data)
        return self._object_resource(name, len(data))

    def _multipart(self, request):
        ctype = request.headers.get("Content-Type") or ""
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.body)
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if len(parts) != 2:
            return gcs_error(400, "Multipart upload needs exactly two parts: metadata and media.")
        try:
            metadata = json.loads(parts[0].get_payload(decode=True) or b"{}")
        except ValueError:
            return gcs_error(400, "Invalid JSON metadata part.", "parseError")
        name = metadata.get("name") or request.query.get("name", "")
        return self._store(request, name, parts[1].get_payload(decode=True) or b"")

    def _initiate(self, request, bucket):
        name = request.query.get("name", "")
        if not name and request.body:
            try:
                name = json.loads(request.body).get("name", "")
            except ValueError:
                return gcs_error(400, "Invalid JSON metadata.", "parseError")
        if not name:
            return gcs_error(400, "Required parameter: name", "required")
        denied = self._authorise(request.headers, name)
        if denied:
            return denied
        upload_id = secrets.token_hex(16)
        with self.lock:
            file_id = self.tokens[request.headers["Authorization"][7:].strip()][0]
            self.sessions[upload_id] = _Session(file_id, name)
        location = (f"{request.base_url}/upload/storage/v1/b/{bucket}/o"
                    f"?uploadType=resumable&upload_id={upload_id}")
        return Response(200, b"", None, {"Location": location, "X-GUploader-UploadID": upload_id})

    def handle_chunk(self, request, bucket):
        """PUT on a resumable session URI."""
        session = self.sessions.get(request.query.get("upload_id", ""))
        if session is None:
            return gcs_error(404, "No such upload session.", "notFound")
        if request.headers.get("Authorization"):
            denied = self._authorise(request.headers, session.name)
            if denied:
                return denied
        if session.finished:
            return self._object_resource(session.name, len(session.data))
        match = _RANGE.match((request.headers.get("Content-Range") or "").strip())
        if not match:
            return gcs_error(400, "Missing or invalid Content-Range header.")
        total = None if match.group(4) == "*" else int(match.group(4))
        if match.group(1) != "*":
            error = self._append(session, int(match.group(2)), int(match.group(3)), total,
                                 request.body)
            if error:
                return error
        elif request.body:
            return gcs_error(400, "A status query (bytes */...) must have an empty body.")
        if total is not None and len(session.data) == total:
            session.finished = True
            self.objects[session.name] = bytes(session.data)
            return self._object_resource(session.name, total)
        if total is not None and len(session.data) > total:
            return gcs_error(400, "More bytes than the declared total.")
        headers = {"Range": f"bytes=0-{len(session.data) - 1}"} if session.data else {}
        return Response(308, b"", None, headers)

    @staticmethod
    def _append(session, first, last, total, body):
        if last - first + 1 != len(body):
            return gcs_error(400, "Content-Range does not match the body length.")
        committed = len(session.data)
        if first > committed:
            return gcs_error(400, f"Chunk starts at {first}, but only {committed} bytes are committed.")
        is_final = total is not None and last + 1 == total
        if not is_final and len(body) % CHUNK_QUANTUM:
            # Stricter than GCS (which would commit only whole 256 KiB units): a
            # client sending odd-sized middle chunks has a bug worth seeing.
            return gcs_error(400, "Non-final chunks must be a multiple of 256 KiB.")
        session.data += body[committed - first:]  # resent bytes overlap the committed range
        return None
