"""A throw-away certificate authority for the rig's production-hosts mode.

`tests/rig/up PROVIDER --production-hosts` serves the cloud storage under the
names kbsyncd uses in production (BUCKET.s3.REGION.amazonaws.com, ...) over
TLS on a loopback port. This module makes, with openssl, a CA and one server
certificate for those names inside the rig dir (never in the repository);
kbsyncd trusts the CA through `http.ca_bundle` and reaches the port through
KBSYNCD_TEST_CONNECT_TO (lua/keboola/transport.lua).
"""
import os
import subprocess

# The names a production-hosts rig serves, per provider. The S3 name follows
# the emulator's files bucket and region (tests/emulator/kbemu/backend_aws.py).
PUBLIC_HOSTS = {
    "aws": ["kbc-sapi-files.s3.us-east-1.amazonaws.com"],
}


def _openssl(*args, cwd):
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()[-500:]}")


def make_certificates(rig_dir, names):
    """CA and server certificate for `names` (+ 127.0.0.1) in RIG_DIR/tls.

    Returns {"ca": path, "cert": path, "key": path}. Keys are 2048-bit RSA
    (quick to make) and live only as long as the rig dir."""
    folder = os.path.join(rig_dir, "tls")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=kbsyncd test rig CA", "-keyout", "ca.key", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={names[0]}",
             "-keyout", "server.key", "-out", "server.csr", cwd=folder)
    alt = ",".join([f"DNS:{n}" for n in names] + ["IP:127.0.0.1"])
    with open(os.path.join(folder, "server.ext"), "w") as handle:
        handle.write(f"subjectAltName={alt}\nextendedKeyUsage=serverAuth\n"
                     "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
             cwd=folder)
    return {"ca": os.path.join(folder, "ca.pem"), "cert": os.path.join(folder, "server.pem"),
            "key": os.path.join(folder, "server.key")}


def emulator_args(rig_dir, provider):
    """The emulator's arguments for production-hosts mode (certificates made here)."""
    if provider not in PUBLIC_HOSTS:
        raise RuntimeError(f"--production-hosts: not available for {provider} "
                           "(tests/emulator/README.md says why)")
    paths = make_certificates(rig_dir, PUBLIC_HOSTS[provider])
    return ["--tls-cert", paths["cert"], "--tls-key", paths["key"], "--tls-ca", paths["ca"]]
