"""Client-side uploads the way kbsyncd does them, for every provider.

aws: boto3 against the rig's S3 endpoint (path style) with the per-file STS
credentials; azure: plain urllib with the SAS; gcp: plain urllib against the
emulator's GCS JSON upload API.
"""
import base64
import json
import urllib.parse
import uuid

from rigclient import http


# --- aws ---------------------------------------------------------------
def s3_client(rig, prepared, secret=None, with_token=True):
    import boto3  # only the aws tests need it
    from botocore.config import Config
    creds = prepared["uploadParams"]["credentials"]
    return boto3.client(
        "s3", endpoint_url=rig.env["KBSYNCD_S3_ENDPOINT"], region_name=prepared["region"],
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=secret or creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"] if with_token else None,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                      request_checksum_calculation="when_required"))


def s3_put(rig, prepared, data, sse=True, secret=None, with_token=True, key=None):
    """PutObject; returns the HTTP status (errors included)."""
    params = prepared["uploadParams"]
    extra = {"ServerSideEncryption": "AES256"} if sse else {}
    client = s3_client(rig, prepared, secret, with_token)
    try:
        reply = client.put_object(Bucket=params["bucket"], Key=key or params["key"], Body=data,
                                  ACL=params["acl"], **extra)
        return reply["ResponseMetadata"]["HTTPStatusCode"]
    except client.exceptions.ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def s3_multipart(rig, prepared, parts, sse=True):
    params = prepared["uploadParams"]
    client = s3_client(rig, prepared)
    extra = {"ServerSideEncryption": "AES256"} if sse else {}
    try:
        upload = client.create_multipart_upload(Bucket=params["bucket"], Key=params["key"], **extra)
    except client.exceptions.ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"]
    done = []
    for number, part in enumerate(parts, 1):
        etag = client.upload_part(Bucket=params["bucket"], Key=params["key"], PartNumber=number,
                                  UploadId=upload["UploadId"], Body=part)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    reply = client.complete_multipart_upload(
        Bucket=params["bucket"], Key=params["key"], UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done})
    return reply["ResponseMetadata"]["HTTPStatusCode"]


# --- azure -------------------------------------------------------------
def azure_target(prepared):
    params = prepared["absUploadParams"]
    pairs = dict(item.split("=", 1) for item in
                 params["absCredentials"]["SASConnectionString"].split(";") if item)
    blob_url = f"{pairs['BlobEndpoint']}/{params['container']}/{urllib.parse.quote(params['blobName'])}"
    return blob_url, pairs["SharedAccessSignature"]


def azure_put_blob(prepared, data, sas=None):
    blob_url, default_sas = azure_target(prepared)
    return http("PUT", f"{blob_url}?{sas or default_sas}", data,
                {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"}).status


def azure_put_blocks(prepared, blocks):
    """Put Block per piece, then Put Block List; returns the final status."""
    blob_url, sas = azure_target(prepared)
    ids = []
    for index, block in enumerate(blocks):
        block_id = base64.b64encode(f"{index:06d}".encode()).decode()
        ids.append(block_id)
        status = http("PUT", f"{blob_url}?comp=block&blockid={urllib.parse.quote(block_id)}&{sas}",
                      block, {"Content-Type": "application/octet-stream"}).status
        if status != 201:
            return status
    body = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"
            + "".join(f"<Latest>{i}</Latest>" for i in ids) + "</BlockList>").encode()
    return http("PUT", f"{blob_url}?comp=blocklist&{sas}", body,
                {"Content-Type": "application/xml"}).status


# --- gcp ---------------------------------------------------------------
def gcs_url(rig, prepared, upload_type):
    params = prepared["gcsUploadParams"]
    name = urllib.parse.quote(params["key"], safe="")
    return (f"{rig.env['KBSYNCD_GCS_ENDPOINT']}/upload/storage/v1/b/{params['bucket']}/o"
            f"?uploadType={upload_type}&name={name}")


def gcs_auth(prepared, token=None):
    return {"Authorization": f"Bearer {token or prepared['gcsUploadParams']['access_token']}"}


def gcs_media(rig, prepared, data, token=None):
    return http("POST", gcs_url(rig, prepared, "media"), data,
                dict(gcs_auth(prepared, token), **{"Content-Type": "text/csv"}))


def gcs_multipart(rig, prepared, data):
    boundary = "b" + uuid.uuid4().hex
    metadata = json.dumps({"name": prepared["gcsUploadParams"]["key"]}).encode()
    body = (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode()
            + metadata + f"\r\n--{boundary}\r\nContent-Type: text/csv\r\n\r\n".encode()
            + data + f"\r\n--{boundary}--\r\n".encode())
    url = gcs_url(rig, prepared, "multipart").split("&name=")[0]
    return http("POST", url, body, dict(gcs_auth(prepared),
                                        **{"Content-Type": f"multipart/related; boundary={boundary}"}))


def gcs_start_resumable(rig, prepared, token=None):
    reply = http("POST", gcs_url(rig, prepared, "resumable"), b"",
                 dict(gcs_auth(prepared, token), **{"Content-Length": "0"}))
    return reply, reply.headers.get("Location")


def gcs_put_chunk(session_url, data, first, total=None):
    last = first + len(data) - 1
    content_range = f"bytes {first}-{last}/{total if total is not None else '*'}"
    return http("PUT", session_url, data, {"Content-Range": content_range})


def gcs_resumable(rig, prepared, data, chunk=256 * 1024):
    reply, session = gcs_start_resumable(rig, prepared)
    if reply.status != 200:
        return reply
    offset = 0
    while True:
        piece = data[offset:offset + chunk]
        final = offset + len(piece) >= len(data)
        reply = gcs_put_chunk(session, piece, offset, len(data) if final else None)
        if final:
            return reply
        offset += len(piece)


# --- any provider ----------------------------------------------------
def upload(rig, prepared, data):
    """Upload with the provider the prepare answer names; returns the HTTP status."""
    provider = prepared["provider"]
    if provider == "aws":
        return s3_put(rig, prepared, data, sse=bool(prepared["isEncrypted"]))
    if provider == "azure":
        return azure_put_blob(prepared, data)
    return gcs_media(rig, prepared, data).status
