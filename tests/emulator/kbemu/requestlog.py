"""A log of every request the emulator answered, so tests can count API calls."""
import threading
import time


class RequestLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.serial = 0

    def add(self, method, path, query, status, fault):
        with self.lock:
            self.serial += 1
            self.items.append({"seq": self.serial, "method": method, "path": path,
                               "query": query, "status": status, "fault": fault,
                               "time": round(time.time(), 3)})

    def entries(self, since=0):
        with self.lock:
            return [dict(e) for e in self.items if e["seq"] > since]

    def clear(self):
        with self.lock:
            self.items.clear()
