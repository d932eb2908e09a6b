"""The emulator's shared state: configuration, project contents, backend, faults, logs."""
from .branches import Branches
from .buckets import NO_PREFIX_FEATURE
from .faults import FaultInjector
from .jobs import JobStore
from .requestlog import RequestLog
from .store import Store
from .tokens import PROJECT_ID, TokenRegistry


class App:
    def __init__(self, base_url, backend, job_polls, fault_rate, fault_seed, no_legacy_prefix):
        self.base_url = base_url
        self.backend = backend
        self.project_id = PROJECT_ID
        self.tokens = TokenRegistry()
        self.store = Store()  # production's (the default branch)
        self.branches = Branches(self.store)
        self.jobs = JobStore(base_url, job_polls)
        self.request_log = RequestLog()
        self._initial_faults = (fault_rate, fault_seed)
        self.faults = FaultInjector(fault_rate, fault_seed)
        self.features = {NO_PREFIX_FEATURE} if no_legacy_prefix else set()
        self._initial_features = set(self.features)
        self._initial_job_polls = job_polls
        # Imports whose file has expired meanwhile: the next N import-async
        # calls find their dataFileId gone (404 storage.files.notFound).
        self.expire_files_on_import = 0

    def reset(self):
        """Back to an empty project with the start-up settings (cloud objects stay)."""
        self.store.reset()
        self.branches.reset()
        self.jobs.reset()
        self.jobs.job_polls = self._initial_job_polls
        self.request_log.clear()
        self.faults.configure({"rate": self._initial_faults[0], "seed": self._initial_faults[1],
                               "rates": {}, "script": []})
        self.features = set(self._initial_features)
        self.tokens.revoked = set()
        self.expire_files_on_import = 0

    def runtime_config(self):
        config = {"provider": self.backend.provider, "jobPolls": self.jobs.job_polls,
                  "features": sorted(self.features), "backend": self.backend.describe()}
        if hasattr(self.backend, "token_ttl"):
            config["gcsTokenTtl"] = self.backend.token_ttl
        config["revokedTokens"] = sorted(self.tokens.revoked)
        config["expireFilesOnImport"] = self.expire_files_on_import
        return config

    def update_runtime_config(self, changes):
        if "jobPolls" in changes:
            self.jobs.job_polls = int(changes["jobPolls"])
        if "features" in changes:
            self.features = set(changes["features"])
        if "gcsTokenTtl" in changes and hasattr(self.backend, "token_ttl"):
            self.backend.token_ttl = float(changes["gcsTokenTtl"])
        if "revokedTokens" in changes:
            self.tokens.revoked = set(changes["revokedTokens"])
        if "expireFilesOnImport" in changes:
            self.expire_files_on_import = int(changes["expireFilesOnImport"])
