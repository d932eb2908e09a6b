"""AWS file storage: moto's S3 server with signature checks on and AssumeRole per file.

Setup (while moto still accepts anything): an IAM user with an access key and
a policy allowing s3/sts/iam, then `POST /moto-api/reset-auth 0` turns request
authentication on. From then on every call - ours included - must be signed
with real moto credentials.

Per prepared file a role is created whose only permission is writing that one
key, and the role is assumed: the ASIA key, secret and session token handed to
the client are checked by moto on every S3 request, and writing another key
is refused, as on AWS. Moto ignores session policies and bucket-policy
conditions, which is why scoping uses a role per file and why the
server-side-encryption requirement is enforced by the S3 gate (s3gate.py).
"""
import json
import time
import urllib.request

import boto3
from botocore.config import Config

from . import clock

ACCOUNT = "123456789012"
USER = "kbsyncd-emulator"
FILES_BUCKET = "kbc-sapi-files"
REGION = "us-east-1"
CREDENTIAL_SECONDS = 12 * 3600


def _allow(actions, resource):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resource}]})


class AwsBackend:
    provider = "aws"
    region = REGION

    def __init__(self, moto_url, gate_url, public=False):
        self.moto_url = moto_url.rstrip("/")
        self.gate_url = gate_url
        # public: the gate serves TLS under the production name; clients get
        # no endpoint override and reach it through a connect-to mapping.
        self.public = public
        self.encrypted_keys = set()  # read by the S3 gate
        self._setup()

    def _client(self, service, key=None):
        key = key or {"AccessKeyId": "bootstrap", "SecretAccessKey": "bootstrap"}
        return boto3.client(
            service, endpoint_url=self.moto_url, region_name=REGION,
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))

    def _setup(self):
        iam = self._client("iam")
        iam.create_user(UserName=USER)
        self.user_key = iam.create_access_key(UserName=USER)["AccessKey"]
        policy = iam.create_policy(PolicyName="emulator-admin",
                                   PolicyDocument=_allow(["s3:*", "sts:*", "iam:*"], "*"))
        iam.attach_user_policy(UserName=USER, PolicyArn=policy["Policy"]["Arn"])
        self._client("s3").create_bucket(Bucket=FILES_BUCKET)
        request = urllib.request.Request(
            self.moto_url + "/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"})  # a form type would hide the body from moto
        urllib.request.urlopen(request, timeout=10).read()
        self.iam = self._client("iam", self.user_key)
        self.sts = self._client("sts", self.user_key)
        self.s3 = self._client("s3", self.user_key)

    def _credentials_for(self, file_id, key):
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{USER}"},
            "Action": "sts:AssumeRole"}]})
        name = f"kbsyncd-file-{file_id}"
        actions = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        policy = self.iam.create_policy(
            PolicyName=name, PolicyDocument=_allow(actions, f"arn:aws:s3:::{FILES_BUCKET}/{key}"))
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                             MaxSessionDuration=CREDENTIAL_SECONDS)
        self.iam.attach_role_policy(RoleName=name, PolicyArn=policy["Policy"]["Arn"])
        creds = self.sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName=name,
            DurationSeconds=CREDENTIAL_SECONDS)["Credentials"]
        return {
            "AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
            "SessionToken": creds["SessionToken"],
            "Expiration": clock.iso_z(time.time() + CREDENTIAL_SECONDS).replace("Z", "+00:00"),
        }

    def prepare(self, stored, project_id):
        key = f"exp-15/{project_id}/files/{clock.date_path()}/{stored.id}.{stored.name}"
        stored.location = {"bucket": FILES_BUCKET, "key": key}
        if stored.is_encrypted:
            self.encrypted_keys.add((FILES_BUCKET, key))
        params = {"bucket": FILES_BUCKET, "key": key, "acl": "private", "region": REGION,
                  "credentials": self._credentials_for(stored.id, key)}
        if stored.is_encrypted:
            params["x-amz-server-side-encryption"] = "AES256"
        stored.upload_params = {"uploadParams": params}
        return stored.upload_params

    def read_credentials(self, stored):
        params = stored.upload_params["uploadParams"]
        return {"s3Path": {"bucket": params["bucket"], "key": params["key"]},
                "credentials": params["credentials"]}

    def read(self, stored):
        """The uploaded bytes, or None when nothing was uploaded under the file's key."""
        try:
            obj = self.s3.get_object(Bucket=stored.location["bucket"], Key=stored.location["key"])
        except self.s3.exceptions.NoSuchKey:
            return None
        return obj["Body"].read()

    def describe(self):
        if self.public:
            port = self.gate_url.rsplit(":", 1)[1]
            host = f"{FILES_BUCKET}.s3.{REGION}.amazonaws.com"
            return {"publicHosts": [host], "connectTo": [f"{host}:443:127.0.0.1:{port}"],
                    "motoEndpoint": self.moto_url}
        return {"s3Endpoint": self.gate_url, "motoEndpoint": self.moto_url}
