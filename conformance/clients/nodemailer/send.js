#!/usr/bin/env node
// send.js - the "nodemailer" client of edsim-conform.
//
// Sends the case's message once with nodemailer's SMTP transport, configured
// the way an application sending through the OCI Email Delivery SMTP
// endpoint would: plain connection upgraded with STARTTLS (requireTLS, so
// no mail goes out in clear), edsim's certificate as the only CA, AUTH with
// the case's credentials. The message file is sent as it is (raw), with
// the case's envelope. nodemailer does not retry; its timeouts are its
// defaults.
//
// Everything comes from the EDSIM_* variables the runner sets:
// EDSIM_SMTP_HOST, EDSIM_SMTP_PORT, EDSIM_CA, EDSIM_USER, EDSIM_PASSWORD,
// EDSIM_FROM, EDSIM_TO, EDSIM_EML. NODEMAILER_DEBUG=1 logs the SMTP
// dialogue to stdout.
//
// Exit 0 when the message was accepted (the result is printed); 1 when the
// send failed, with the reply code and text (err.responseCode,
// err.response) or nodemailer's error code; 2 for a set-up problem.
"use strict";

const fs = require("fs");
const path = require("path");

let nodemailer;
try {
	nodemailer = require(path.join(__dirname, "node_modules", "nodemailer"));
} catch (e) {
	console.error(`send.js: cannot load nodemailer (run npm ci in ${__dirname}): ${e.message}`);
	process.exit(2);
}

function env(name) {
	const v = process.env[name];
	if (v === undefined || v === "") {
		console.error(`send.js: ${name} is not set`);
		process.exit(2);
	}
	return v;
}

let transport, raw;
try {
	const debug = process.env.NODEMAILER_DEBUG === "1";
	transport = nodemailer.createTransport({
		host: env("EDSIM_SMTP_HOST"),
		port: Number(env("EDSIM_SMTP_PORT")),
		secure: false,
		requireTLS: true,
		tls: { ca: fs.readFileSync(env("EDSIM_CA")) },
		auth: { user: env("EDSIM_USER"), pass: env("EDSIM_PASSWORD") },
		logger: debug,
		debug,
	});
	raw = fs.readFileSync(env("EDSIM_EML"));
} catch (e) {
	console.error(`send.js: ${e.message}`);
	process.exit(2);
}

const envelope = { from: env("EDSIM_FROM"), to: [env("EDSIM_TO")] };
const started = Date.now();
transport
	.sendMail({ envelope, raw })
	.then((info) => {
		console.log(`accepted: ${info.response}`);
		console.log(JSON.stringify({
			ok: true,
			response: info.response,
			accepted: info.accepted,
			rejected: info.rejected,
			envelope: info.envelope,
			elapsed_ms: Date.now() - started,
		}));
		transport.close();
	})
	.catch((err) => {
		// The command's first word only: an AUTH command carries credentials.
		const command = err.command ? String(err.command).split(" ")[0] : undefined;
		let text = err.response || err.message;
		if (err.responseCode && !String(text).startsWith(String(err.responseCode)))
			text = `${err.responseCode} ${text}`;
		console.error(`failed: ${text}` + (command ? ` (after ${command})` : "") +
			(err.code ? ` [${err.code}]` : ""));
		console.log(JSON.stringify({
			ok: false,
			code: err.code,
			command,
			responseCode: err.responseCode,
			response: err.response,
			message: err.message,
			elapsed_ms: Date.now() - started,
		}));
		transport.close();
		process.exitCode = 1;
	});
