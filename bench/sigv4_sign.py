#!/usr/bin/env python3
"""sigv4_sign.py HOST PATH BODY_FILE KEY_ID SECRET REGION: the X-Amz-Date and
Authorization headers of one AWS Signature Version 4 signed POST (service
"ses", signed headers host, x-amz-date), printed as two shell assignments
(AMZ_DATE=..., AMZ_AUTH=...).

bench/https.sh signs the SES v2 SendEmail request once per run with it and
wrk replays it: SigV4 carries no nonce, so one signature stays valid for the
5 minutes of the skew window, and edsim still verifies every request.
Python's standard library only (hmac, hashlib), independent of edsim's C.
"""
import datetime
import hashlib
import hmac
import sys


def hmac256(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def main():
    host, path, body_file, key_id, secret, region = sys.argv[1:7]
    body = open(body_file, "rb").read()
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    canonical = "\n".join(["POST", path, "", "host:%s" % host, "x-amz-date:%s" % amz_date, "",
                           "host;x-amz-date", hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/ses/aws4_request" % (date, region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = hmac256(("AWS4" + secret).encode(), date)
    for part in (region, "ses", "aws4_request"):
        key = hmac256(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    print("AMZ_DATE=%s" % amz_date)
    print("AMZ_AUTH='AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-date, "
          "Signature=%s'" % (key_id, scope, signature))


if __name__ == "__main__":
    main()
