"""Storage jobs: creation, per-table serial execution and the polled status.

Work runs at once on a per-table worker thread (imports to one table are
serialised, in submission order, like the real server). What a poll shows
lags behind on purpose: the first `job_polls` GETs see waiting/processing
even when the work is done, so a client's polling loop is really exercised.
A job marked stuck never leaves "processing" (fault injection).
"""
import itertools
import queue
import threading

from . import clock
from .errors import ApiError, JobError, new_exception_id


class Job:
    def __init__(self, job_id, operation, table_id, params, creator, base_url):
        self.id = job_id
        self.operation = operation
        self.table_id = table_id
        self.params = params
        self.creator = creator
        self.url = f"{base_url}/v2/storage/jobs/{job_id}"
        self.created = clock.iso()
        self.started = None
        self.ended = None
        self.polls = 0
        self.done = threading.Event()
        self.outcome = None  # ("success", results) or ("error", JobError)
        self.metrics = {"inCompressed": False, "inBytes": 0, "inBytesUncompressed": 0,
                        "outCompressed": False, "outBytes": 0, "outBytesUncompressed": 0}
        self.stuck = False
        self.shown_final = False

    def render(self, status):
        body = {
            "id": self.id, "status": status, "url": self.url, "tableId": self.table_id,
            "operationName": self.operation, "operationParams": self.params,
            "createdTime": self.created, "startTime": self.started if status != "waiting" else None,
            "endTime": None, "runId": None, "results": None,
            "creatorToken": self.creator, "metrics": self.metrics,
        }
        if status in ("success", "error"):
            body["endTime"] = self.ended
            kind, value = self.outcome
            if kind == "success":
                body["results"] = value
            else:
                body["results"] = value.results
                body["error"] = {"code": value.code, "message": value.message,
                                 "exceptionId": new_exception_id()}
        return body


class JobStore:
    def __init__(self, base_url, job_polls):
        self.base_url = base_url
        self.job_polls = job_polls
        self.lock = threading.Lock()
        self.jobs = {}
        self.ids = itertools.count(5001)
        self.queues = {}

    def submit(self, operation, serial_key, table_id, params, creator, work, stuck=False):
        """Create a job and queue `work(job)` behind earlier jobs with the same serial key."""
        with self.lock:
            job = Job(next(self.ids), operation, table_id, params, creator, self.base_url)
            job.stuck = stuck
            self.jobs[job.id] = job
            worker_queue = self.queues.get(serial_key)
            if worker_queue is None:
                worker_queue = self.queues[serial_key] = queue.Queue()
                threading.Thread(target=self._drain, args=(worker_queue,), daemon=True,
                                 name=f"jobs:{serial_key}").start()
        worker_queue.put((job, work))
        return job

    @staticmethod
    def _drain(worker_queue):
        while True:
            job, work = worker_queue.get()
            job.started = clock.iso()
            try:
                job.outcome = ("success", work(job))
            except JobError as exc:
                job.outcome = ("error", exc)
            except Exception as exc:  # a bug in the emulator must still end the job visibly
                job.outcome = ("error", JobError("emulator.internalError", f"{type(exc).__name__}: {exc}"))
            job.ended = clock.iso()
            job.done.set()

    def get(self, job_id):
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "storage.jobs.notFound", f"Job {job_id} not found")
        return job

    def poll(self, job_id):
        """What GET jobs/{id} shows now; every call counts as one poll."""
        with self.lock:
            job = self.get(job_id)
            job.polls += 1
            polls = job.polls
        if job.stuck:
            return job.render("waiting" if polls == 1 else "processing")
        if job.shown_final or (polls > self.job_polls and job.done.is_set()):
            job.shown_final = True
            return job.render(job.outcome[0])
        if polls == 1 and self.job_polls >= 2 or job.started is None:
            return job.render("waiting")
        return job.render("processing")

    def reset(self):
        with self.lock:
            self.jobs.clear()
