#!/usr/bin/python3
"""ses_boto3_ops.py - account and identity calls through boto3 (Debian's
python3-boto3), for sdk_ses.sh: resume, pause, verify ADDRESS, account, as
ses_sdk_ops.js does them. Endpoint, region, key and CA come from the EDSIM_*
environment."""
import os
import sys

import boto3
from botocore.exceptions import ClientError


def env(name):
    return os.environ["EDSIM_" + name]


c = boto3.session.Session().client(
    "sesv2", endpoint_url=env("HTTPS_URL"), region_name=env("AWS_REGION"),
    aws_access_key_id=env("AWS_ACCESS_KEY_ID"),
    aws_secret_access_key=env("AWS_SECRET_ACCESS_KEY"), verify=env("CA"))
op = sys.argv[1]
try:
    if op in ("resume", "pause"):
        c.put_account_sending_attributes(SendingEnabled=op == "resume")
        print("ok")
    elif op == "verify":
        r = c.create_email_identity(EmailIdentity=sys.argv[2])
        print(f"{r['IdentityType']} VerifiedForSendingStatus {str(r['VerifiedForSendingStatus']).lower()}")
    elif op == "account":
        r = c.get_account()
        print(f"SendingEnabled {str(r['SendingEnabled']).lower()} "
              f"ProductionAccessEnabled {str(r['ProductionAccessEnabled']).lower()}")
except ClientError as e:
    print(f"failed: {e.response['Error']['Code']} "
          f"(HTTP {e.response['ResponseMetadata']['HTTPStatusCode']}): {e.response['Error']['Message']}")
    sys.exit(1)
