/*
 * sigv4.h - checking an AWS Signature Version 4 carried in a request's
 * Authorization header, the way AWS's own services check it.
 *
 * sigv4_verify() takes a request as it came in (method, raw path and
 * query, headers, body), the access keys edsim knows, the region and
 * service it plays and the virtual clock, and answers with one condition:
 * SIGV4_OK, or the first failure in AWS's order of checks, together with
 * the values AWS's reply text for that failure names (the times, the
 * scope's parts, the missing parameters, the canonical request). The
 * texts, codes and HTTP statuses themselves live in the catalog, never
 * here; sigv4_status_name() gives each condition a stable name for it.
 *
 * It knows nothing of HTTP servers: a front end hands over a flat list of
 * headers. Header-signed requests only (no presigned query strings, no
 * S3 rules: the path is normalised and its bytes encoded again).
 */
#ifndef EDSIM_SES_SIGV4_H
#define EDSIM_SES_SIGV4_H

#include <stddef.h>

/* How far the signing time may be from the server's clock, either way.
 * AWS prints it in the expiry texts: "(<now> - 5 min.)". */
#define SIGV4_SKEW_SECONDS 300

struct sigv4_header {
	const char *name; /* any case */
	const char *value;
};

struct sigv4_request {
	const char *method; /* "POST" */
	const char *path;   /* raw, as received: "/v2/email/identities/a%40b.com" */
	const char *query;  /* raw, without the '?'; NULL or "" when there is none */
	const struct sigv4_header *headers; /* as received, repeats in order */
	size_t nheaders;
	const unsigned char *body;
	size_t body_len;
};

struct sigv4_key {
	const char *id;     /* access key id, "AKIDEXAMPLE" */
	const char *secret; /* secret access key */
};

/* In AWS's order of checks: the first one that fails is the answer. */
enum sigv4_status {
	SIGV4_OK,
	SIGV4_MISSING,         /* no Authorization header, or not an "AWS4-" one */
	SIGV4_MALFORMED_PAIR,  /* a part (between commas or blanks) without '=' */
	SIGV4_INCOMPLETE,      /* Credential, Signature, SignedHeaders or the date absent */
	SIGV4_BAD_DATE,        /* X-Amz-Date (or Date) not ISO 8601 basic format */
	SIGV4_EXPIRED,         /* signed more than SIGV4_SKEW_SECONDS ago */
	SIGV4_NOT_YET_CURRENT, /* signed more than SIGV4_SKEW_SECONDS ahead */
	SIGV4_HOST_NOT_SIGNED, /* host not among SignedHeaders */
	SIGV4_BAD_ALGORITHM,   /* "AWS4-..." but not AWS4-HMAC-SHA256 */
	SIGV4_BAD_CREDENTIAL,  /* Credential not keyid/date/region/service/term */
	SIGV4_BAD_SCOPE,       /* wrong region, service, terminator or date in it */
	SIGV4_UNKNOWN_KEY,     /* the access key id is not one of the keys */
	SIGV4_MISMATCH,        /* the signature is not the one we calculate */
	SIGV4_INTERNAL,        /* out of memory building the canonical request */
};

/* SIGV4_INCOMPLETE: what is missing (AWS names them in this order). */
#define SIGV4_NEED_CREDENTIAL     0x1u
#define SIGV4_NEED_SIGNATURE      0x2u
#define SIGV4_NEED_SIGNED_HEADERS 0x4u
#define SIGV4_NEED_DATE           0x8u /* neither X-Amz-Date nor Date */

/* SIGV4_BAD_SCOPE: which parts are wrong (AWS names them in this order). */
#define SIGV4_SCOPE_REGION     0x1u
#define SIGV4_SCOPE_SERVICE    0x2u
#define SIGV4_SCOPE_TERMINATOR 0x4u
#define SIGV4_SCOPE_DATE       0x8u

#define SIGV4_TIME_LEN 16 /* "20150830T123600Z" */

/* The values a condition's text needs. Strings that come from the client
 * are truncated to their buffer; every buffer is NUL-terminated. */
struct sigv4_result {
	enum sigv4_status status;
	size_t key_index;            /* SIGV4_OK: the matching entry of keys */
	char key_id[128];            /* the Credential's access key id */
	char authorization[2048];    /* the Authorization header as received */
	char authorization_hash[45]; /* base64(SHA-256(that header)), as newer AWS texts print it */
	char pair[256];              /* MALFORMED_PAIR: the part without '=' */
	unsigned missing;            /* INCOMPLETE: SIGV4_NEED_* */
	char algorithm[64];          /* BAD_ALGORITHM: as given */
	char credential[512];        /* BAD_CREDENTIAL: as given */
	char date[64];               /* the X-Amz-Date or Date value as given */
	/* EXPIRED, NOT_YET_CURRENT, and set from BAD_DATE on: */
	char signing_time[SIGV4_TIME_LEN + 1]; /* the request's time */
	char server_time[SIGV4_TIME_LEN + 1];  /* now */
	char window_edge[SIGV4_TIME_LEN + 1];  /* now - skew (EXPIRED), + skew (NOT_YET_CURRENT) */
	int skew_minutes;                      /* SIGV4_SKEW_SECONDS / 60 */
	char request_date[9];                  /* YYYYMMDD of signing_time */
	/* BAD_SCOPE: which parts, and the credential's parts as given */
	unsigned scope_errors; /* SIGV4_SCOPE_* */
	char scope_date[64];
	char scope_region[64];
	char scope_service[64];
	char scope_terminator[64];
	char region[64];  /* the region expected */
	char service[64]; /* the service expected */
	/* MISMATCH and OK: what AWS's older SignatureDoesNotMatch texts print
	 * ("The Canonical String for this request should have been ..."), and
	 * the signature we calculated; malloc'ed, freed by sigv4_result_free() */
	char *canonical_request;
	char *string_to_sign;
	char expected_signature[65];
};

/* Checks req's signature against keys for region and service at now (unix
 * seconds, the virtual clock). Every string given, header names and values
 * included, is non-NULL except req->query and req->body (when body_len is 0). Fills *out (always:
 * sigv4_result_free() is safe after any return) and returns out->status. */
enum sigv4_status sigv4_verify(const struct sigv4_request *req, const struct sigv4_key *keys,
                               size_t nkeys, const char *region, const char *service, double now,
                               struct sigv4_result *out);
/* Frees what sigv4_verify() allocated in r. */
void sigv4_result_free(struct sigv4_result *r);
/* A stable lower-case name for each status ("mismatch", "bad-scope", ...),
 * for catalog ids and logs. */
const char *sigv4_status_name(enum sigv4_status status);

#endif
