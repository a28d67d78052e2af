#!/usr/bin/python3
"""dkim_verify.py - check the top DKIM-Signature of a message with python3-dkim.

Usage: /usr/bin/python3 tests/integration/dkim_verify.py MESSAGE_FILE PUBLIC_KEY_PEM_FILE

Run it with /usr/bin/python3: Debian's python3-dkim lives in
/usr/lib/python3/dist-packages, which another python3 on PATH (a pyenv
build, say) does not see. Started by such a Python, the script re-executes
itself with /usr/bin/python3 when `import dkim` fails.

No DNS is used: every key lookup answers with the TXT record
"v=DKIM1; k=rsa; p=<base64 DER SubjectPublicKeyInfo>" built from the PEM
file ("BEGIN PUBLIC KEY"; "BEGIN RSA PUBLIC KEY" also works), whatever d=
and s= say. An independent verifier for the signatures sim/dkim.c makes.

Prints "dkim: pass" and exits 0 when the signature verifies; otherwise
prints "dkim: fail" (the reason, if any, on stderr) and exits 1.
"""
import base64
import logging
import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"

try:
    import dkim
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    raise


def fail(reason=None):
    if reason:
        print("dkim_verify: %s" % reason, file=sys.stderr)
    print("dkim: fail")
    sys.exit(1)


def txt_record(pem_path):
    """The DKIM key record for the public key in a PEM file."""
    with open(pem_path, "rb") as f:
        lines = f.read().decode("ascii").splitlines()
    body = []
    inside = False
    for line in lines:
        line = line.strip()
        if line.startswith("-----BEGIN ") and "PUBLIC KEY" in line:
            inside = True
        elif line.startswith("-----END "):
            if inside:
                break
        elif inside and line and ":" not in line:
            body.append(line)
    if not body:
        raise ValueError("%s: no PEM public key" % pem_path)
    der = base64.b64decode("".join(body), validate=True)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def main(argv):
    if len(argv) != 3:
        fail("usage: %s MESSAGE_FILE PUBLIC_KEY_PEM_FILE" % argv[0])
    try:
        with open(argv[1], "rb") as f:
            message = f.read()
        record = txt_record(argv[2])
    except (OSError, ValueError, UnicodeDecodeError) as e:
        fail(str(e))

    def dnsfunc(name, timeout=5):
        return record

    logger = logging.getLogger("dkim_verify")
    logger.addHandler(logging.StreamHandler(sys.stderr))
    logger.setLevel(logging.WARNING)
    try:
        ok = dkim.verify(message, logger=logger, dnsfunc=dnsfunc)
    except Exception as e:  # a message dkim cannot even parse
        fail("%s: %s" % (type(e).__name__, e))
    if not ok:
        fail()
    print("dkim: pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
