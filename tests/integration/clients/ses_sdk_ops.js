// ses_sdk_ops.js - account and identity calls through the AWS SDK for
// JavaScript v3 (the node_modules of conformance/clients/aws-sdk-js), for
// sdk_ses.sh: resume (PutAccountSendingAttributes SendingEnabled true),
// pause (false), verify ADDRESS (CreateEmailIdentity), account (GetAccount:
// prints SendingEnabled and ProductionAccessEnabled). Endpoint, region, key
// and CA come from the EDSIM_* environment, as for send.js. Prints the
// result or "failed: NAME (HTTP STATUS): MESSAGE" and exits 1.
"use strict";
const { createRequire } = require("module");
const path = require("path");
const sdk = createRequire(path.join(__dirname, "../../../conformance/clients/aws-sdk-js/package.json"));
const v2 = sdk("@aws-sdk/client-sesv2");

const env = (name) => process.env["EDSIM_" + name];
const client = new v2.SESv2Client({
  endpoint: env("HTTPS_URL"),
  region: env("AWS_REGION"),
  credentials: { accessKeyId: env("AWS_ACCESS_KEY_ID"), secretAccessKey: env("AWS_SECRET_ACCESS_KEY") },
});
const [op, arg] = process.argv.slice(2);
const commands = {
  resume: () => new v2.PutAccountSendingAttributesCommand({ SendingEnabled: true }),
  pause: () => new v2.PutAccountSendingAttributesCommand({ SendingEnabled: false }),
  verify: () => new v2.CreateEmailIdentityCommand({ EmailIdentity: arg }),
  account: () => new v2.GetAccountCommand({}),
};
client.send(commands[op]()).then(
  (out) => {
    if (op === "account") console.log(`SendingEnabled ${out.SendingEnabled} ProductionAccessEnabled ${out.ProductionAccessEnabled}`);
    else if (op === "verify") console.log(`${out.IdentityType} VerifiedForSendingStatus ${out.VerifiedForSendingStatus}`);
    else console.log("ok");
  },
  (err) => {
    console.log(`failed: ${err.name} (HTTP ${(err.$metadata || {}).httpStatusCode}): ${err.message}`);
    process.exitCode = 1;
  }
);
