// send.js - the AWS SDK for JavaScript v3 against edsim's SES API: one send,
// with the SDK's default retry configuration (nothing about retries is set).
//
//   node send.js ses-v2|ses-v1 [--secret SECRET]
//
// ses-v2 (also v2): @aws-sdk/client-sesv2 SendEmailCommand with Content.Raw; v1:
// @aws-sdk/client-ses SendRawEmailCommand (ses-v1, also v1). The endpoint is {https_url}, the
// credentials and region the case's (EDSIM_* environment, set by
// edsim-conform); edsim's certificate is trusted through NODE_EXTRA_CA_CERTS
// (the client definition sets it). A middleware in the deserialize step,
// which runs once per HTTP attempt inside the retry middleware, prints each
// attempt as it happens (the amz-sdk-request header sent, the status and
// x-amzn-ErrorType edsim answered, the time since the call began); then one
// last line: "sent: ..." and exit 0, or "failed: NAME (HTTP STATUS): MESSAGE"
// and exit 1.
"use strict";

const fs = require("fs");

const api = ["v1", "ses-v1"].includes(process.argv[2]) ? "v1" : "v2";
const secretAt = process.argv.indexOf("--secret");
const env = (name) => process.env["EDSIM_" + name];

const { SESv2Client, SendEmailCommand } = require("@aws-sdk/client-sesv2");
const { SESClient, SendRawEmailCommand } = require("@aws-sdk/client-ses");

const config = {
  endpoint: env("HTTPS_URL"),
  region: env("AWS_REGION"),
  credentials: {
    accessKeyId: env("AWS_ACCESS_KEY_ID"),
    secretAccessKey: secretAt > 0 ? process.argv[secretAt + 1] : env("AWS_SECRET_ACCESS_KEY"),
  },
};
const client = api === "v2" ? new SESv2Client(config) : new SESClient(config);
const raw = fs.readFileSync(env("EML"));
const command =
  api === "v2"
    ? new SendEmailCommand({
        FromEmailAddress: env("FROM"),
        Destination: { ToAddresses: [env("TO")] },
        Content: { Raw: { Data: raw } },
      })
    : new SendRawEmailCommand({ Source: env("FROM"), Destinations: [env("TO")], RawMessage: { Data: raw } });

const start = Date.now();
let attempts = 0;
client.middlewareStack.add(
  (next) => async (args) => {
    const sent = args.request.headers["amz-sdk-request"] || "";
    attempts++;
    const n = attempts;
    const at = () => ((Date.now() - start) / 1000).toFixed(3);
    try {
      const out = await next(args);
      const type = ((out.response.headers || {})["x-amzn-errortype"] || "").split(":")[0];
      console.log(`attempt ${n} at ${at()} s: ${out.response.statusCode}${type ? " " + type : ""} (amz-sdk-request: ${sent})`);
      return out;
    } catch (err) {
      const status = err.$metadata && err.$metadata.httpStatusCode;
      console.log(`attempt ${n} at ${at()} s: ${status || "no response"} ${err.name} (amz-sdk-request: ${sent})`);
      throw err;
    }
  },
  { step: "deserialize", name: "edsimAttemptLog" }
);

console.log(`${api === "v2" ? "@aws-sdk/client-sesv2" : "@aws-sdk/client-ses"} ${require(`${api === "v2" ? "@aws-sdk/client-sesv2" : "@aws-sdk/client-ses"}/package.json`).version}`);
client.send(command).then(
  (out) => {
    console.log(`sent: MessageId ${out.MessageId} after ${out.$metadata.attempts} attempt(s)`);
  },
  (err) => {
    const m = err.$metadata || {};
    console.log(
      `failed: ${err.name} (HTTP ${m.httpStatusCode || "none"}): ${err.message} after ${m.attempts || attempts} attempt(s)`
    );
    process.exitCode = 1;
  }
);
