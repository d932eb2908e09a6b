#!/usr/bin/env python3
"""Run the Keboola Storage API emulator: python3 tests/emulator/emulator.py --provider gcp

Binds 127.0.0.1 on a kernel-chosen port (or --port), sets up the file-storage
backend of the chosen provider, then writes --ready-file (JSON with the URLs
and tokens) atomically, so whoever started it knows it answers.
"""
import argparse
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kbemu.app import App  # noqa: E402
from kbemu.httpserve import bind_server, serve_in_thread, server_url  # noqa: E402
from kbemu.server import ApiHandler  # noqa: E402
from kbemu.tokens import TokenRegistry  # noqa: E402


def parse_args(argv):
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=["aws", "azure", "gcp"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = let the kernel choose")
    parser.add_argument("--moto-url", help="moto S3 server (aws)")
    parser.add_argument("--azurite-url", help="Azurite blob endpoint root (azure)")
    parser.add_argument("--job-polls", type=int, default=int(env.get("KBSYNCD_JOB_POLLS", 2)),
                        help="GETs of a job that still show waiting/processing")
    parser.add_argument("--gcs-token-ttl", type=float,
                        default=float(env.get("KBSYNCD_GCS_TOKEN_TTL", 3599)))
    parser.add_argument("--fault-rate", type=float, default=float(env.get("KBSYNCD_FAULT_RATE") or 0))
    parser.add_argument("--fault-seed", default=env.get("KBSYNCD_FAULT_SEED") or "0")
    parser.add_argument("--no-legacy-prefix", action="store_true",
                        default=env.get("KBSYNCD_NO_LEGACY_PREFIX") == "1",
                        help="advertise disable-legacy-bucket-prefix: bucket ids without c-")
    parser.add_argument("--ready-file", help="write URLs and tokens here once serving")
    parser.add_argument("--tls-cert", help="with --tls-key: serve the cloud storage over TLS "
                        "under its production host names (tests/rig/tls.py)")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-ca", help="the CA of --tls-cert, named in the ready file")
    return parser.parse_args(argv)


def make_backend(args, api_url, faults):
    if args.provider == "aws":
        from kbemu.backend_aws import AwsBackend
        from kbemu.s3gate import bind_gate, serve_gate
        tls = {"cert": args.tls_cert, "key": args.tls_key} if args.tls_cert else None
        gate = bind_gate(faults, args.host, tls)
        backend = AwsBackend(args.moto_url, server_url(gate), public=tls is not None)
        serve_gate(gate, backend)
        return backend
    if args.provider == "azure":
        from kbemu.backend_azure import AzureBackend
        return AzureBackend(args.azurite_url)
    from kbemu.backend_gcs import GcsBackend
    return GcsBackend(api_url, args.gcs_token_ttl)


def write_ready_file(path, info):
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(info, handle, indent=2)
    os.replace(temporary, path)


def main(argv):
    args = parse_args(argv)
    if args.provider == "aws" and not args.moto_url:
        sys.exit("--moto-url is required for --provider aws")
    if bool(args.tls_cert) != bool(args.tls_key):
        sys.exit("--tls-cert and --tls-key go together")
    if args.tls_cert and args.provider != "aws":
        sys.exit("--tls-cert: production host names are served for aws only")
    if args.provider == "azure" and not args.azurite_url:
        sys.exit("--azurite-url is required for --provider azure")
    api = bind_server(ApiHandler, args.host, args.port)
    api_url = server_url(api)
    app = App(api_url, None, args.job_polls, args.fault_rate, args.fault_seed,
              args.no_legacy_prefix)
    app.backend = make_backend(args, api_url, app.faults)
    api.app = app
    serve_in_thread(api)
    info = {"pid": os.getpid(), "provider": args.provider, "apiUrl": api_url,
            "tokens": TokenRegistry().env_exports()}
    info.update(app.backend.describe())
    if args.tls_ca:
        info["caBundle"] = args.tls_ca
    if args.ready_file:
        write_ready_file(args.ready_file, info)
    print(json.dumps(info), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    # No graceful drain: serving threads are daemons and tests want a quick stop.
    api.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
