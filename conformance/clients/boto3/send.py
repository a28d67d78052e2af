#!/usr/bin/python3
"""boto3 against edsim's SES API: one send, with boto3's own retries.

Usage: send.py [--api ses-v2|ses-v1] [--retry-mode default|legacy|standard] [--secret S]

Sends the case's message once through boto3 (Debian's python3-boto3, run
with /usr/bin/python3): v2 SendEmail with Content.Raw (the "sesv2" client)
or v1 SendRawEmail (the "ses" client), to {https_url} with the case's access
key, trusting {ca}. Everything comes from the EDSIM_* environment the
conformance runner sets. --retry-mode default leaves boto3's configuration
alone (its default mode); legacy or standard set Config(retries={"mode": ...})
without touching max_attempts. Every HTTP attempt is printed as it happens
(the amz-sdk-request header boto3 sent, the status and error code edsim
answered, the time since the call began), then one last line: "sent: ..." and
exit 0, or "failed: CODE (HTTP STATUS): MESSAGE" and exit 1.
"""
import argparse
import os
import sys
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


def env(name):
    return os.environ["EDSIM_" + name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", choices=["ses-v2", "ses-v1", "v2", "v1"], default="ses-v2")
    ap.add_argument("--retry-mode", choices=["default", "legacy", "standard"], default="default")
    ap.add_argument("--secret", help="sign with this secret instead of the case's")
    args = ap.parse_args()
    args.api = args.api.replace("ses-", "")

    config = Config() if args.retry_mode == "default" else Config(retries={"mode": args.retry_mode})
    client = boto3.session.Session().client(
        "sesv2" if args.api == "v2" else "ses",
        endpoint_url=env("HTTPS_URL"),
        region_name=env("AWS_REGION"),
        aws_access_key_id=env("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=args.secret or env("AWS_SECRET_ACCESS_KEY"),
        verify=env("CA"),
        config=config,
    )
    start = time.monotonic()
    attempts = []

    def before_send(request, **_):
        attempts.append(request.headers.get("amz-sdk-request", b""))

    def received(response_dict=None, exception=None, **_):
        t = time.monotonic() - start
        sent = attempts[-1] if attempts else b""
        sent = sent.decode() if isinstance(sent, bytes) else sent
        if response_dict is not None:
            h = response_dict.get("headers", {})
            code = h.get("x-amzn-ErrorType", "") or ""
            print(f"attempt {len(attempts)} at {t:.3f} s: {response_dict['status_code']} "
                  f"{code.split(':')[0]} (amz-sdk-request: {sent})".rstrip(), flush=True)
        else:
            print(f"attempt {len(attempts)} at {t:.3f} s: no response: {exception!r} "
                  f"(amz-sdk-request: {sent})", flush=True)

    client.meta.events.register("before-send.*", before_send)
    client.meta.events.register("response-received.*", received)
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, "
          f"retry mode {client.meta.config.retries.get('mode', 'legacy') if client.meta.config.retries else 'legacy'}",
          flush=True)
    raw = open(env("EML"), "rb").read()
    try:
        if args.api == "v2":
            r = client.send_email(FromEmailAddress=env("FROM"),
                                  Destination={"ToAddresses": [env("TO")]},
                                  Content={"Raw": {"Data": raw}})
        else:
            r = client.send_raw_email(Source=env("FROM"), Destinations=[env("TO")],
                                      RawMessage={"Data": raw})
    except ClientError as e:
        err, meta = e.response.get("Error", {}), e.response.get("ResponseMetadata", {})
        print(f"failed: {err.get('Code')} (HTTP {meta.get('HTTPStatusCode')}): {err.get('Message')} "
              f"after {meta.get('RetryAttempts', 0) + 1} attempt(s)", flush=True)
        return 1
    except BotoCoreError as e:
        print(f"failed: {type(e).__name__}: {e}", flush=True)
        return 1
    print(f"sent: MessageId {r['MessageId']} after "
          f"{r['ResponseMetadata'].get('RetryAttempts', 0) + 1} attempt(s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
