#!/usr/bin/env node
// oci_submit.js - calls edsim's HTTPS submission API with the official OCI
// TypeScript SDK (oci-emaildataplane + oci-common), for
// tests/integration/sdk_oci.sh.
//
//   node oci_submit.js MODE
//
// MODE:
//   ok         submitEmail with sender, compartment, recipients, subject and
//              bodyText; prints {"ok": true, messageId, envelopeId, opcRequestId, ...}
//   nosubject  the same without a subject: the SDK throws; prints
//              {"ok": false, statusCode, serviceCode, message, ...}
//   retry429   submitEmail while edsim answers 429 TooManyRequests to the
//              SDK's first two attempts (see "emulated" below); prints the
//              outcome and every attempt the SDK made.
//
// Environment: EDSIM_ENDPOINT (https://127.0.0.1:PORT), OCI_TENANCY, OCI_USER,
// OCI_FINGERPRINT, OCI_KEY_FILE (PEM private key), SUBJECT (optional),
// BODY_TEXT (optional). NODE_EXTRA_CA_CERTS must name edsim's certificate.
//
// One JSON line goes to stdout; the SDK's own warnings (retries, "Request
// cannot be retried") go to stderr. Exit status 0 whenever the script ran as
// intended, whatever the call's outcome (the shell test checks the fields);
// 2 for a usage or set-up problem.
"use strict";

const fs = require("fs");
const https = require("https");

let common, emaildataplane;
try {
	common = require("oci-common");
	emaildataplane = require("oci-emaildataplane");
} catch (e) {
	console.error(`oci_submit.js: cannot load the OCI SDK: ${e.message}`);
	process.exit(2);
}

function env(name) {
	const v = process.env[name];
	if (v === undefined || v === "") {
		console.error(`oci_submit.js: ${name} is not set`);
		process.exit(2);
	}
	return v;
}

const mode = process.argv[2] || "ok";
const endpoint = env("EDSIM_ENDPOINT");
const provider = new common.SimpleAuthenticationDetailsProvider(
	env("OCI_TENANCY"),
	env("OCI_USER"),
	env("OCI_FINGERPRINT"),
	fs.readFileSync(env("OCI_KEY_FILE"), "utf8"),
	null,
	common.Region.US_ASHBURN_1
);
const client = new emaildataplane.EmailDPClient({ authenticationDetailsProvider: provider });
client.endpoint = endpoint; // the setter appends /20220926

// Every attempt the SDK makes, as seen at its HTTP client: the status and
// error code of the answer and the headers the SDK sent (after signing).
const attempts = [];
function authParam(req, name) {
	const m = new RegExp(`${name}="([^"]*)"`).exec(req.headers.get("authorization") || "");
	return m ? m[1] : null;
}
const httpClient = client._httpClient;
const send = httpClient.send.bind(httpClient);
let beforeAttempt = async () => {};
httpClient.send = async function (req, ...rest) {
	await beforeAttempt(attempts.length + 1);
	const started = Date.now();
	const response = await send(req, ...rest);
	const a = {
		status: response.status,
		at_ms: started - t0,
		opcRequestId: req.headers.get("opc-request-id"),
		opcClientRetries: req.headers.get("opc-client-retries"),
		keyId: authParam(req, "keyId"),
		signedHeaders: authParam(req, "headers"),
	};
	if (response.status < 200 || response.status > 299) {
		try {
			a.code = (await response.clone().json()).code;
		} catch (e) {
			a.code = null;
		}
	}
	attempts.push(a);
	return response;
};

// A request that is no submission (GET on an unknown path: 404), sent with
// Node's https module and the same CA: it only takes a place in edsim's
// request-rate window (limits.requests_per_second counts every request).
function filler() {
	return new Promise((resolve, reject) => {
		const r = https.get(`${endpoint}/20220926/edsim-sdk-test-filler`, (res) => {
			res.resume();
			res.on("end", () => resolve(res.statusCode));
		});
		r.on("error", reject);
		r.setTimeout(10000, () => r.destroy(new Error("filler request timed out")));
	});
}

const fillers = [];
if (mode === "retry429") {
	// EMULATED: edsim's HTTPS scenario stages (a rule answering 429 to the
	// 1st and 2nd attempt) are not built yet. Instead edsim runs with
	// limits.requests_per_second: 1, and right before each of the SDK's
	// first two attempts this script sends one filler request, which takes
	// the one place of the current one-second window, so that attempt is
	// answered 429 TooManyRequests by edsim's real rate limit. The SDK's
	// default retry waits 2^n + jitter(0..1) s (>= 1 s) before each retry,
	// so the window has always moved on before the next attempt. The third
	// attempt gets no filler and succeeds. Everything the SDK does (the
	// decision to retry on 429 TooManyRequests, the backoff, the re-signed
	// request with a fresh x-date, the same opc-request-id) is real.
	beforeAttempt = async (n) => {
		if (n <= 2)
			fillers.push(await filler());
	};
}

const details = {
	sender: {
		compartmentId: "ocid1.compartment.oc1..sdk",
		senderAddress: { email: "noreply@example.com", name: "SDK Sender" },
	},
	recipients: {
		to: [{ email: "rcpt@example.net", name: "Rcpt" }],
		cc: [{ email: "cc@example.net" }],
	},
	bodyText: process.env.BODY_TEXT || "Hello from the OCI TypeScript SDK.",
};
if (mode !== "nosubject")
	details.subject = process.env.SUBJECT || "sdk test";

const t0 = Date.now();
(async () => {
	const out = { mode };
	try {
		const res = await client.submitEmail({ submitEmailDetails: details });
		const r = res.emailSubmittedResponse || {};
		Object.assign(out, {
			ok: true,
			messageId: r.messageId,
			envelopeId: r.envelopeId,
			suppressedRecipients: r.suppressedRecipients,
			opcRequestId: res.opcRequestId,
		});
	} catch (e) {
		Object.assign(out, {
			ok: false,
			errorClass: e && e.constructor ? e.constructor.name : typeof e,
			isOciError: e instanceof common.OciError,
			statusCode: e ? e.statusCode : undefined,
			serviceCode: e ? e.serviceCode : undefined,
			message: e ? e.message : String(e),
			opcRequestId: e ? e.opcRequestId : undefined,
			code: e ? e.code : undefined,
		});
	}
	out.elapsed_ms = Date.now() - t0;
	out.attempts = attempts;
	if (fillers.length)
		out.fillers = fillers;
	console.log(JSON.stringify(out));
	client.close();
})().catch((e) => {
	console.error(`oci_submit.js: ${e && e.stack ? e.stack : e}`);
	process.exit(2);
});
