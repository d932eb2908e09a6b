"""Development branches (blueprint, "Group Development Branches").

Every project has one default branch (production, `isDefault` true); more are
made by POST /v2/storage/dev-branches, which answers 202 with a job
(`devBranchCreate`) whose results are the new branch. A branch has buckets,
tables and files of its own: a call under /v2/storage/branch/{id}/... works on
that branch's store, the plain path and /branch/default/... on production's.
Jobs are the project's, whatever the branch (the PHP client's
BranchAwareClient never puts jobs under a branch).
"""
import itertools
import threading
from dataclasses import dataclass

from . import clock
from .bodies import to_str
from .errors import ApiError, JobError
from .http_types import json_response
from .store import Store

DEFAULT_BRANCH_ID = 101
DEFAULT_BRANCH_NAME = "Main"


@dataclass
class Branch:
    id: int
    name: str
    description: str
    created: str
    is_default: bool
    creator: dict
    store: Store


class Branches:
    """The project's branches and their stores; production's is `default`."""

    def __init__(self, production_store):
        self.lock = threading.Lock()
        self.production_store = production_store
        self.reset()

    def reset(self):
        with self.lock:
            self.ids = itertools.count(DEFAULT_BRANCH_ID + 1)
            self.default = Branch(DEFAULT_BRANCH_ID, DEFAULT_BRANCH_NAME, "", clock.iso(), True, {},
                                  self.production_store)
            self.by_id = {DEFAULT_BRANCH_ID: self.default}

    def get(self, raw_id):
        """The branch a path names: `default` or a number; 404 otherwise."""
        if raw_id == "default":
            return self.default
        try:
            branch = self.by_id.get(int(raw_id))
        except ValueError:
            branch = None
        if branch is None:
            # Invented code (README.md): the real one is not in a source we read.
            raise ApiError(404, "storage.devBranches.notFound", f"Branch \"{raw_id}\" not found.")
        return branch

    def stores(self):
        with self.lock:
            return [b.store for b in self.by_id.values()]


class BranchView:
    """The app as one request sees it: `store` is its branch's, the rest is shared."""

    _OWN = ("_app", "branch", "store")

    def __init__(self, app, branch):
        object.__setattr__(self, "_app", app)
        object.__setattr__(self, "branch", branch)
        object.__setattr__(self, "store", branch.store)

    def __getattr__(self, name):
        return getattr(self._app, name)

    def __setattr__(self, name, value):
        # A handler's change of shared state (a countdown such as
        # expire_files_on_import) is the app's, not this request's.
        if name in self._OWN:
            raise AttributeError(f"{name} is fixed for the request")
        setattr(self._app, name, value)


def branch_json(branch):
    return {"id": branch.id, "name": branch.name, "description": branch.description,
            "created": branch.created, "isDefault": branch.is_default,
            "creatorToken": branch.creator if branch.creator else []}


def list_branches(app, req):
    with app.branches.lock:
        return json_response(200, [branch_json(b) for b in app.branches.by_id.values()])


def branch_detail(app, req):
    return json_response(200, branch_json(app.branches.get(req.args[0])))


def create_branch(app, req):
    name = to_str(req.params.get("name"), "").strip()
    if not name:
        raise ApiError(400, "storage.devBranches.validation", "Invalid data - name: This value should not be blank.")
    description = to_str(req.params.get("description"), "") or ""
    branches = app.branches
    with branches.lock:
        if any(b.name == name for b in branches.by_id.values()):
            # Invented code (README.md).
            raise ApiError(400, "storage.devBranches.alreadyExists",
                           f"There already is a branch with name \"{name}\".")
    creator = {"id": req.token.creator().get("id"), "name": req.token.creator().get("description")}

    def work(job):
        with branches.lock:
            if any(b.name == name for b in branches.by_id.values()):
                raise JobError("storage.devBranches.alreadyExists",
                               f"There already is a branch with name \"{name}\".")
            branch = Branch(next(branches.ids), name, description, clock.iso(), False, creator,
                            Store(branches.production_store.file_ids))
            branches.by_id[branch.id] = branch
        return branch_json(branch)

    job = app.jobs.submit("devBranchCreate", f"dev-branch:{name}", None,
                          {"queue": "main", "values": {"name": name, "description": description}},
                          req.token.creator(), work, stuck=req.stuck_job)
    return json_response(202, job.render("waiting"))


def delete_branch(app, req):
    """DELETE dev-branches/{id}: a job too; the default branch cannot be deleted."""
    branch = app.branches.get(req.args[0])
    if branch.is_default:
        raise ApiError(400, "storage.devBranches.cannotDeleteDefaultBranch",
                       "Default branch cannot be deleted.")

    def work(job):
        with app.branches.lock:
            app.branches.by_id.pop(branch.id, None)
        return None

    job = app.jobs.submit("devBranchDelete", f"dev-branch:{branch.name}", None,
                          {"queue": "main", "values": {"branchId": branch.id}},
                          req.token.creator(), work, stuck=req.stuck_job)
    return json_response(202, job.render("waiting"))
