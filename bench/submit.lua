-- submit.lua - wrk script for bench/https.sh: every request is one small
-- OCI submitEmail over the connection wrk keeps alive; or, when SES_AUTH is
-- set in the environment, one SES v2 SendEmail (POST
-- /v2/email/outbound-emails, the body SES_BODY) carrying the SigV4 headers
-- SES_AUTH and SES_DATE that bench/sigv4_sign.py computed for that body.
--
--   wrk -t2 -c64 -d10s --latency -s bench/submit.lua https://127.0.0.1:PORT
--
-- When COUNT is not "0" in the environment (the default), a response()
-- callback counts the answers by status code, per thread; done() adds the
-- threads up. done() prints machine-readable lines after wrk's own summary:
--   WRK_REQUESTS=n WRK_DURATION_US=n WRK_BYTES=n
--   WRK_ERR_CONNECT=n WRK_ERR_READ=n WRK_ERR_WRITE=n WRK_ERR_TIMEOUT=n
--   WRK_NON2XX=n                      (wrk's own count of non-2xx/3xx answers)
--   WRK_STATUS_200=n WRK_STATUS_xxx=n (response() counts, when COUNT != 0)
--   WRK_LAT_P50_US=n ... WRK_LAT_P999_US=n WRK_LAT_MAX_US=n WRK_LAT_MEAN_US=n
--   WRK_LAT_STDEV_US=n
--   WRK_BODY=the request body
-- Lines are prefixed so that the shell can pick them out of wrk's output.

local count = os.getenv("COUNT") ~= "0"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("SES_AUTH") then
	wrk.path = "/v2/email/outbound-emails"
	wrk.headers["Authorization"] = os.getenv("SES_AUTH")
	wrk.headers["X-Amz-Date"] = os.getenv("SES_DATE")
	wrk.body = os.getenv("SES_BODY")
else
	wrk.path = "/20220926/actions/submitEmail"
	wrk.body = '{"sender":{"senderAddress":{"email":"noreply@example.com","name":"Bench"},' ..
	           '"compartmentId":"ocid1.compartment.oc1..bench"},' ..
	           '"recipients":{"to":[{"email":"sink@example.net"}]},' ..
	           '"subject":"wrk benchmark","bodyText":"Hello from wrk.\\n"}'
end

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	statuses = {}
end

if count then
	function response(status, headers, body)
		statuses[status] = (statuses[status] or 0) + 1
	end
end

function done(summary, latency, requests)
	local total = {}
	for _, t in ipairs(threads) do
		local s = t:get("statuses")
		if s then
			for code, n in pairs(s) do
				total[code] = (total[code] or 0) + n
			end
		end
	end
	local e = summary.errors
	io.write(string.format("WRK_REQUESTS=%d\n", summary.requests))
	io.write(string.format("WRK_DURATION_US=%d\n", summary.duration))
	io.write(string.format("WRK_BYTES=%d\n", summary.bytes))
	io.write(string.format("WRK_ERR_CONNECT=%d\nWRK_ERR_READ=%d\nWRK_ERR_WRITE=%d\nWRK_ERR_TIMEOUT=%d\n",
	                       e.connect, e.read, e.write, e.timeout))
	io.write(string.format("WRK_NON2XX=%d\n", e.status))
	io.write(string.format("WRK_COUNTED=%d\n", count and 1 or 0))
	for code, n in pairs(total) do
		io.write(string.format("WRK_STATUS_%d=%d\n", code, n))
	end
	for _, p in ipairs({50, 75, 90, 99, 99.9}) do
		io.write(string.format("WRK_LAT_P%s_US=%d\n", tostring(p):gsub("%.", ""), latency:percentile(p)))
	end
	io.write("WRK_BODY=" .. wrk.body .. "\n")
	io.write(string.format("WRK_LAT_MAX_US=%d\nWRK_LAT_MEAN_US=%.1f\nWRK_LAT_STDEV_US=%.1f\n",
	                       latency.max, latency.mean, latency.stdev))
end
