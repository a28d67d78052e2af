#!/bin/sh
# send.sh - the AWS CLI (Debian's awscli, /usr/bin/aws) against edsim's SES
# API: one send with the CLI's own retry configuration (nothing about
# retries is set; the CLI reads no configuration file here).
#
#   send.sh [--secret SECRET]
#
# A case of the v1 API ({api} ses-v1) runs `aws ses
# send-raw-email`, any other `aws sesv2 send-email` with Content.Raw, to
# {https_url} with the case's access key and region, trusting {ca}
# (--ca-bundle); everything comes from the EDSIM_* environment that
# edsim-conform sets. Only the CLI's own output is shown (what its user
# sees, graded as the report). The CLI runs with --debug into the case's
# directory; from that log every HTTP attempt (the status edsim answered
# and the delay the CLI chose before the next one) goes to aws-attempts.txt
# beside it. Exit status: the CLI's (0 sent; 254 an error from the service).
secret=$EDSIM_AWS_SECRET_ACCESS_KEY
[ "${1:-}" = --secret ] && secret=$2
dir=${EDSIM_WORKDIR:-.}
debug=$dir/aws-debug.log
data=$(base64 -w0 "$EDSIM_EML")
export AWS_ACCESS_KEY_ID="$EDSIM_AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$secret"
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_PAGER=
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_RETRY_MODE AWS_MAX_ATTEMPTS AWS_SESSION_TOKEN
common="--endpoint-url $EDSIM_HTTPS_URL --ca-bundle $EDSIM_CA --region $EDSIM_AWS_REGION --debug"
case "${EDSIM_API:-}" in
ses-v1)
	printf '{"Data":"%s"}' "$data" >"$dir/raw-message.json"
	/usr/bin/aws ses send-raw-email $common --source "$EDSIM_FROM" --destinations "$EDSIM_TO" \
		--raw-message "file://$dir/raw-message.json" >"$dir/aws.out" 2>"$debug"
	;;
*)
	printf '{"Raw":{"Data":"%s"}}' "$data" >"$dir/content.json"
	/usr/bin/aws sesv2 send-email $common --from-email-address "$EDSIM_FROM" \
		--destination "ToAddresses=$EDSIM_TO" --content "file://$dir/content.json" \
		>"$dir/aws.out" 2>"$debug"
	;;
esac
rc=$?
{
sed -n 's/.* - DEBUG - CLI version: \(.*\)/\1/p' "$debug" | head -1
# the attempts, from the debug log: urllib3's status line of each request,
# and the retry handler's chosen delay
sed -n -e 's/^[0-9-]* \([0-9:,]*\) .*connectionpool - DEBUG - [^"]*"POST \([^ ]*\) [^"]*" \([0-9]*\) .*/\1 POST \2: \3/p' \
	-e 's/^[0-9-]* \([0-9:,]*\) .*\(Retry needed, retrying request after delay of: [0-9.]*\).*/\1 \2/p' \
	-e 's/^[0-9-]* \([0-9:,]*\) .*\(Max attempts of [0-9]* reached\|Not retrying request\).*/\1 \2/p' "$debug" |
	awk '/POST/ { n++; print "attempt " n " at " $0; next } { print }'
} >"$dir/aws-attempts.txt"
cat "$dir/aws.out"
grep -E '^(An error occurred|Could not connect|SSL validation failed|Unable to locate)' "$debug" | tail -3
exit $rc
