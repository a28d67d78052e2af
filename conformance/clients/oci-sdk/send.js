#!/usr/bin/env node
// send.js - the "oci-sdk" client of edsim-conform.
//
// Submits the case's message with submitEmail of the official OCI
// TypeScript SDK (oci-emaildataplane + oci-common, the versions pinned in
// package.json, the same as tests/sdk), against edsim's HTTPS submission
// API, with the SDK's default retry behaviour (nothing configured: it
// retries 429, 5xx, 409 IncorrectState and network errors with exponential
// backoff and jitter, the same opc-request-id on every attempt).
//
// The request: sender EDSIM_FROM in a made-up compartment, recipient
// EDSIM_TO, subject EDSIM_SUBJECT, messageId EDSIM_MESSAGE_ID, and the body
// of the message file EDSIM_EML as bodyText. Requests are signed with an
// API key generated for the run (edsim-conform's edsim has https.auth off,
// so any signature is accepted). edsim's certificate EDSIM_CA must be
// trusted by Node: when NODE_EXTRA_CA_CERTS does not name it, the script
// runs itself again with it set (Node reads it at start-up only).
//
// Environment: EDSIM_HTTPS_URL, EDSIM_CA, EDSIM_FROM, EDSIM_TO,
// EDSIM_SUBJECT, EDSIM_MESSAGE_ID, EDSIM_EML (as the runner sets them).
//
// Output: one line per attempt the SDK made ("attempt N: STATUS CODE"),
// then "accepted: ..." or "failed: STATUS CODE: message", then a JSON
// summary. Exit 0 when the submission was accepted, 1 when it failed in
// the end, 2 for a set-up problem.
"use strict";

const childProcess = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

function env(name) {
	const v = process.env[name];
	if (v === undefined || v === "") {
		console.error(`send.js: ${name} is not set`);
		process.exit(2);
	}
	return v;
}

const ca = env("EDSIM_CA");
if (process.env.NODE_EXTRA_CA_CERTS !== ca) {
	const r = childProcess.spawnSync(process.execPath, [__filename, ...process.argv.slice(2)], {
		env: { ...process.env, NODE_EXTRA_CA_CERTS: ca },
		stdio: "inherit",
	});
	if (r.error) {
		console.error(`send.js: cannot run node again: ${r.error.message}`);
		process.exit(2);
	}
	process.exit(r.status === null ? 2 : r.status);
}

let common, emaildataplane;
try {
	common = require(path.join(__dirname, "node_modules", "oci-common"));
	emaildataplane = require(path.join(__dirname, "node_modules", "oci-emaildataplane"));
} catch (e) {
	console.error(`send.js: cannot load the OCI SDK (run npm ci in ${__dirname}): ${e.message}`);
	process.exit(2);
}

// An API key for this run; the fingerprint is the MD5 of the DER public key.
const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", {
	modulusLength: 2048,
	publicKeyEncoding: { type: "spki", format: "der" },
	privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const fingerprint = crypto.createHash("md5").update(publicKey).digest("hex").match(/../g).join(":");
const provider = new common.SimpleAuthenticationDetailsProvider(
	"ocid1.tenancy.oc1..conform",
	"ocid1.user.oc1..conform",
	fingerprint,
	privateKey,
	null,
	common.Region.US_ASHBURN_1
);
const client = new emaildataplane.EmailDPClient({ authenticationDetailsProvider: provider });
client.endpoint = env("EDSIM_HTTPS_URL"); // the setter appends /20220926

// An error's message with its cause (fetch failed: connect ECONNREFUSED ...).
function errorText(e) {
	let text = e && e.message ? e.message : String(e);
	if (e && e.cause)
		text += `: ${e.cause.message || e.cause}`;
	return text;
}

// Every attempt the SDK makes, as its HTTP client sees it.
const t0 = Date.now();
const attempts = [];
const httpClient = client._httpClient;
const send = httpClient.send.bind(httpClient);
httpClient.send = async function (req, ...rest) {
	const n = attempts.length + 1;
	const a = { n, at_ms: Date.now() - t0, opcRequestId: req.headers.get("opc-request-id") };
	attempts.push(a);
	let response;
	try {
		response = await send(req, ...rest);
	} catch (e) {
		a.error = errorText(e);
		console.log(`attempt ${n} at ${(a.at_ms / 1000).toFixed(2)} s: no answer: ${a.error}`);
		throw e;
	}
	a.status = response.status;
	if (response.status < 200 || response.status > 299) {
		try {
			const body = await response.clone().json();
			a.code = body.code;
			a.message = body.message;
		} catch (e) {
			a.code = null;
		}
	}
	const retryAfter = response.headers.get("retry-after");
	console.log(`attempt ${n} at ${(a.at_ms / 1000).toFixed(2)} s: ${a.status}` +
		(a.code ? ` ${a.code}` : "") + (a.message ? `: ${a.message}` : "") +
		(retryAfter ? ` (Retry-After: ${retryAfter})` : ""));
	return response;
};

// The body of the message file: what follows the first empty line.
function bodyOf(eml) {
	const text = fs.readFileSync(eml, "utf8");
	const m = /\r?\n\r?\n/.exec(text);
	const body = m ? text.slice(m.index + m[0].length) : text;
	return body.replace(/\r\n/g, "\n") || "(empty body)";
}

const details = {
	messageId: env("EDSIM_MESSAGE_ID"),
	sender: {
		compartmentId: "ocid1.compartment.oc1..conform",
		senderAddress: { email: env("EDSIM_FROM") },
	},
	recipients: { to: [{ email: env("EDSIM_TO") }] },
	subject: env("EDSIM_SUBJECT"),
	bodyText: bodyOf(env("EDSIM_EML")),
};

(async () => {
	const out = {};
	try {
		const res = await client.submitEmail({ submitEmailDetails: details });
		const r = res.emailSubmittedResponse || {};
		console.log(`accepted: messageId ${r.messageId}, envelopeId ${r.envelopeId}`);
		Object.assign(out, {
			ok: true,
			messageId: r.messageId,
			envelopeId: r.envelopeId,
			suppressedRecipients: r.suppressedRecipients,
			opcRequestId: res.opcRequestId,
		});
	} catch (e) {
		const status = e && e.statusCode !== undefined ? e.statusCode : "-";
		const code = e && (e.serviceCode || e.code) ? e.serviceCode || e.code : "-";
		console.log(`failed: ${status} ${code}: ${errorText(e)}`);
		Object.assign(out, {
			ok: false,
			errorClass: e && e.constructor ? e.constructor.name : typeof e,
			statusCode: e ? e.statusCode : undefined,
			serviceCode: e ? e.serviceCode : undefined,
			message: errorText(e),
			opcRequestId: e ? e.opcRequestId : undefined,
		});
		process.exitCode = 1;
	}
	out.elapsed_ms = Date.now() - t0;
	out.attempts = attempts;
	console.log(JSON.stringify(out));
	client.close();
})().catch((e) => {
	console.error(`send.js: ${e && e.stack ? e.stack : e}`);
	process.exit(2);
});
