"""Configured tokens, authentication and permission checks (section 1.3 and 9.1)."""
from . import clock
from .errors import ApiError, access_denied

PROJECT_ID = 123
PROJECT_NAME = "kbsyncd-emulator"

# Obviously fake secrets: "<projectId>-<tokenId>-<word>", nothing that looks like a real token.
TOKEN_SPECS = [
    {"id": "456", "token": f"{PROJECT_ID}-456-emulatortoken", "description": "master token",
     "isMasterToken": True, "canManageBuckets": True, "canReadAllFileUploads": True,
     "bucketPermissions": "all:manage", "env": "KBC_STORAGE_API_TOKEN"},
    {"id": "457", "token": f"{PROJECT_ID}-457-nomanagetoken", "description": "cannot manage buckets",
     "isMasterToken": False, "canManageBuckets": False, "canReadAllFileUploads": False,
     "bucketPermissions": "all:write", "env": "KBSYNCD_TOKEN_NO_MANAGE"},
    {"id": "458", "token": f"{PROJECT_ID}-458-limitedtoken", "description": "limited to one bucket",
     "isMasterToken": False, "canManageBuckets": False, "canReadAllFileUploads": False,
     "bucketPermissions": {"in.c-limited": "write", "in.limited": "write"},
     "env": "KBSYNCD_TOKEN_LIMITED"},
]

_RANK = {"read": 1, "write": 2, "manage": 3}
_CREATED = clock.iso()


class Token:
    def __init__(self, spec):
        self.spec = spec
        self.id = spec["id"]
        self.secret = spec["token"]

    @property
    def can_manage_buckets(self):
        return self.spec["canManageBuckets"]

    @property
    def can_read_all_files(self):
        return self.spec["canReadAllFileUploads"]

    def permission(self, bucket_id):
        """"read"/"write"/"manage" or None for the given bucket id."""
        perms = self.spec["bucketPermissions"]
        if isinstance(perms, str):
            return perms.split(":", 1)[1]
        return perms.get(bucket_id)

    def require(self, bucket_id, level):
        granted = self.permission(bucket_id)
        if granted is None or _RANK[granted] < _RANK[level]:
            raise access_denied()

    def permissions_for(self, bucket_ids):
        perms = self.spec["bucketPermissions"]
        if isinstance(perms, str):
            return {bid: perms.split(":", 1)[1] for bid in bucket_ids}
        return dict(perms)

    def creator(self):
        return {"id": self.id, "description": self.spec["description"]}


class TokenRegistry:
    def __init__(self):
        self.by_secret = {spec["token"]: Token(spec) for spec in TOKEN_SPECS}
        self.revoked = set()   # secrets refused as if deleted (PUT /_emulator/config)

    def authenticate(self, headers):
        secret = headers.get("X-StorageApi-Token")
        if not secret:
            raise ApiError(401, "storage.tokenInvalid", "Access token must be set")
        token = self.by_secret.get(secret.strip())
        if token is None or secret.strip() in self.revoked:
            raise ApiError(401, "storage.tokenInvalid", "Invalid access token")
        return token

    def env_exports(self):
        return {spec["env"]: spec["token"] for spec in TOKEN_SPECS}


def verify_payload(token, provider, region, features, bucket_ids):
    """The body of GET /v2/storage/tokens/verify: token id is a string, owner.id an int."""
    spec = token.spec
    owner = {
        "id": PROJECT_ID, "name": PROJECT_NAME, "type": "production", "region": region,
        "created": _CREATED, "expires": None, "features": list(features),
        "dataSizeBytes": 0, "rowsCount": 0, "hasSnowflake": True, "hasBigquery": False,
        "defaultBackend": "snowflake", "fileStorageProvider": provider,
        "limits": {"storage.jobsParallelism": {"name": "storage.jobsParallelism", "value": 10}},
        "metrics": {},
    }
    payload = {
        "id": token.id, "token": spec["token"], "description": spec["description"],
        "created": _CREATED, "refreshed": _CREATED, "expires": None,
        "isExpired": False, "isDisabled": False,
        "isMasterToken": spec["isMasterToken"], "canManageBuckets": spec["canManageBuckets"],
        "canReadAllFileUploads": spec["canReadAllFileUploads"], "canManageTokens": spec["isMasterToken"],
        "canPurgeTrash": spec["isMasterToken"], "canCreateJobs": True,
        "canManageProtectedDefaultBranch": False,
        "bucketPermissions": token.permissions_for(bucket_ids),
        "creatorToken": {"id": "1", "description": "emulator"},
        "organization": {"id": 1}, "owner": owner,
    }
    if spec["isMasterToken"]:
        payload["admin"] = {"id": 1, "name": "Emulator Admin", "features": [],
                            "isOrganizationMember": True, "role": "admin"}
    return payload
