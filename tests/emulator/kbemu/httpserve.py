"""Starting a threaded HTTP server on a loopback port chosen by the kernel.

Binding port 0 and reading the port back avoids the race of "find a free
port, then bind it", so several emulators can run side by side.
"""
import sys
import threading
import traceback
from http.server import ThreadingHTTPServer


class QuietThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # Clients that hang up mid-answer are normal under fault injection;
        # anything else is an emulator bug and belongs in the log.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            traceback.print_exc(file=sys.stderr)


def bind_server(handler_class, host, port=0, **attributes):
    """Bind now (so the port is known), attach attributes handlers read, serve later."""
    server = QuietThreadingServer((host, port), handler_class)
    for name, value in attributes.items():
        setattr(server, name, value)
    return server


def serve_in_thread(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True,
                              name=f"http:{server.RequestHandlerClass.__name__}")
    thread.start()
    return server


def server_url(server):
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
