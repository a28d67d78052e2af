/*
 * run_case.c - runs one case: edsim, the message, the client, the evidence.
 *
 * Processes are started with posix_spawn() in their own process group, so a
 * client that forks (an MTA, a shell pipeline) is stopped as a whole. The
 * control API is read with libcurl. Times in the evidence are wall-clock
 * Unix seconds, the same clock as edsim's event and transcript times. edsim
 * runs under the case's profile (--profile), with a configuration of the
 * runner's for it (OCI: one approved user; SES: https.auth verify and the
 * account of sim/default.yaml).
 */
#include "run_case.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/rand.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "events.h"
#include "util.h"

extern char **environ;

#define DEFAULT_USER     "ocid1.user.oc1..conform"
#define DEFAULT_PASSWORD "conform-password"
#define DEFAULT_SENDER   "sender@example.com"
#define RECIPIENT        "rcpt@example.net"
#define OUTPUT_MAX       (64 * 1024)

struct placeholder {
	const char *name;
	char value[1024];
};

enum ph_index {
	PH_SMTP_HOST,
	PH_SMTP_PORT,
	PH_SMTPS_PORT,
	PH_HTTPS_URL,
	PH_USER,
	PH_PASSWORD,
	PH_FROM,
	PH_TO,
	PH_SUBJECT,
	PH_MESSAGE_ID,
	PH_EML,
	PH_CA,
	PH_WORKDIR,
	PH_CONTROL_URL,
	PH_PROTOCOL,
	PH_CLIENTS_DIR,
	PH_PROFILE,
	PH_CASE,
	PH_API,
	PH_AWS_KEY_ID,
	PH_AWS_SECRET,
	PH_AWS_REGION,
	PH_COUNT
};

struct ctx {
	const struct run_opts *o;
	const struct conform_case *c;
	const struct conform_client *cl;
	char dir[4096];
	pid_t edsim;
	int smtp, smtps, https, control;
	struct placeholder ph[PH_COUNT];
	double started, ended;
	int timed_out, exit_code, signal;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static const char *case_user(const struct ctx *x)
{
	return x->c->user ? x->c->user : DEFAULT_USER;
}

/* SES (profile ses): the account of sim/default.yaml, whose access key the
 * clients use over SMTP (its SMTP password) and HTTPS (SigV4, verified). */
static int write_ses_config(struct ctx *x, const char *path)
{
	char text[1024];

	snprintf(text, sizeof text,
	         "# written by edsim-conform for case %s (profile ses)\n"
	         "auth: {required: true}\n"
	         "limits: {connections_per_ip: 50}\n"
	         "https: {auth: verify}\n",
	         x->c->id);
	return write_text(path, text);
}

static int write_config(struct ctx *x)
{
	char path[4200], text[1024];

	snprintf(path, sizeof path, "%s/edsim.yaml", x->dir);
	if (x->c->profile != NULL && strcmp(x->c->profile, "ses") == 0)
		return write_ses_config(x, path);
	snprintf(text, sizeof text,
	         "# written by edsim-conform for case %s\n"
	         "auth: {required: true}\n"
	         "limits: {connections_per_ip: 50}\n"
	         "users:\n"
	         "  - name: %s\n"
	         "    password: %s\n"
	         "    approved_senders: [\"*@example.com\"]\n",
	         x->c->id, DEFAULT_USER, DEFAULT_PASSWORD);
	return write_text(path, text);
}

/* Starts argv in its own process group with stdout and stderr appended to
 * log; env NULL: edsim-conform's own environment. */
static pid_t spawn(char *const argv[], char *const env[], const char *log, const char *cwd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid = -1;
	char *const *use_env = env ? env : environ;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	if (posix_spawn(&pid, argv[0], &fa, &attr, argv, use_env) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return pid;
}

/* Waits for pid until deadline; kills its process group then. Returns 1
 * when it had to be killed. */
static int wait_until(pid_t pid, double deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return 0;
		if (clock_wall() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, status, 0);
			return 1;
		}
		sleep_ms(20);
	}
}

static int read_ports(struct ctx *x, const char *ready)
{
	json_t *j = json_load_file(ready, 0, NULL);

	if (j == NULL)
		return -1;
	x->smtp = (int)json_integer_value(json_object_get(j, "smtp"));
	x->smtps = (int)json_integer_value(json_object_get(j, "smtps"));
	x->https = (int)json_integer_value(json_object_get(j, "https"));
	x->control = (int)json_integer_value(json_object_get(j, "control"));
	json_decref(j);
	return x->smtp > 0 && x->control > 0 ? 0 : -1;
}

static int start_edsim(struct ctx *x, char *err, size_t errlen)
{
	char cfg[4200], state[4200], log[4200], ready[4300];
	char *argv[] = {(char *)x->o->edsim,
	                "--config",
	                cfg,
	                "--state-dir",
	                state,
	                "--smtp",
	                "127.0.0.1:0",
	                "--smtps",
	                "127.0.0.1:0",
	                "--https",
	                "127.0.0.1:0",
	                "--control",
	                "127.0.0.1:0",
	                "--scenario",
	                x->c->file,
	                x->c->profile ? "--profile" : NULL, /* the scenario's profile */
	                x->c->profile,
	                NULL};
	int status;

	snprintf(cfg, sizeof cfg, "%s/edsim.yaml", x->dir);
	snprintf(state, sizeof state, "%s/state", x->dir);
	snprintf(log, sizeof log, "%s/edsim.log", x->dir);
	snprintf(ready, sizeof ready, "%s/edsim.ready", state);
	unlink(ready);
	if ((x->edsim = spawn(argv, NULL, log, NULL)) < 0) {
		snprintf(err, errlen, "cannot start %s", x->o->edsim);
		return -1;
	}
	for (int i = 0; i < 1000; i++) {
		if (access(ready, R_OK) == 0 && read_ports(x, ready) == 0)
			return 0;
		if (waitpid(x->edsim, &status, WNOHANG) == x->edsim) {
			x->edsim = 0;
			snprintf(err, errlen, "edsim did not start (see %s)", log);
			return -1;
		}
		sleep_ms(10);
	}
	snprintf(err, errlen, "edsim was not ready within 10 s (see %s)", log);
	return -1;
}

static void stop_edsim(struct ctx *x)
{
	int status;

	if (x->edsim <= 0)
		return;
	kill(x->edsim, SIGTERM);
	if (wait_until(x->edsim, clock_wall() + 10, &status))
		fprintf(stderr, "edsim-conform: edsim for %s did not stop on SIGTERM\n", x->c->id);
	x->edsim = 0;
}

static void set_ph(struct ctx *x, enum ph_index i, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_ph(struct ctx *x, enum ph_index i, const char *name, const char *fmt, ...)
{
	va_list ap;

	x->ph[i].name = name;
	va_start(ap, fmt);
	vsnprintf(x->ph[i].value, sizeof x->ph[i].value, fmt, ap);
	va_end(ap);
}

static int write_message(struct ctx *x)
{
	char date[64], text[8192];

	clock_format_rfc5322(clock_wall(), date, sizeof date);
	snprintf(text, sizeof text,
	         "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n"
	         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	         "This message was sent by edsim-conform for case %s.\r\n",
	         date, x->ph[PH_FROM].value, RECIPIENT, x->ph[PH_SUBJECT].value,
	         x->ph[PH_MESSAGE_ID].value, x->c->id);
	return write_text(x->ph[PH_EML].value, text);
}

/* The API a case is about: smtp, or for an HTTPS case its provider's (ses.v1.*
 * cases are SES's v1 Query API, the other SES ones its v2 API). */
static const char *case_api(const struct conform_case *c)
{
	if (!c->https)
		return "smtp";
	if (c->profile == NULL || strcmp(c->profile, "ses") != 0)
		return "oci";
	return strncmp(c->id, "ses.v1.", 7) == 0 ? "ses-v1" : "ses-v2";
}

static void fill_placeholders(struct ctx *x)
{
	unsigned char rnd[4];
	char tag[16];

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0x5a, sizeof rnd);
	snprintf(tag, sizeof tag, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	set_ph(x, PH_SMTP_HOST, "smtp_host", "127.0.0.1");
	set_ph(x, PH_SMTP_PORT, "smtp_port", "%d", x->smtp);
	set_ph(x, PH_SMTPS_PORT, "smtps_port", "%d", x->smtps);
	set_ph(x, PH_HTTPS_URL, "https_url", "https://127.0.0.1:%d", x->https);
	set_ph(x, PH_USER, "user", "%s", case_user(x));
	set_ph(x, PH_PASSWORD, "password", "%s",
	       x->c->password ? x->c->password : DEFAULT_PASSWORD);
	set_ph(x, PH_FROM, "from", "%s", x->c->sender ? x->c->sender : DEFAULT_SENDER);
	set_ph(x, PH_TO, "to", RECIPIENT);
	set_ph(x, PH_SUBJECT, "subject", "edsim-conform %s %s", x->c->id, tag);
	set_ph(x, PH_MESSAGE_ID, "message_id", "<%s.%s@conform.edsim>", x->c->id, tag);
	set_ph(x, PH_EML, "eml", "%s/message.eml", x->dir);
	set_ph(x, PH_CA, "ca", "%s/state/edsim-cert.pem", x->dir);
	set_ph(x, PH_WORKDIR, "workdir", "%s", x->dir);
	set_ph(x, PH_CONTROL_URL, "control_url", "http://127.0.0.1:%d", x->control);
	set_ph(x, PH_PROTOCOL, "protocol", "%s", x->c->https ? "https" : "smtp");
	set_ph(x, PH_CLIENTS_DIR, "clients_dir", "%s", x->cl->dir);
	set_ph(x, PH_PROFILE, "profile", "%s", x->c->profile ? x->c->profile : "");
	set_ph(x, PH_CASE, "case", "%s", x->c->id);
	set_ph(x, PH_API, "api", "%s", case_api(x->c));
	set_ph(x, PH_AWS_KEY_ID, "aws_access_key_id", "%s", x->c->secret ? case_user(x) : "");
	set_ph(x, PH_AWS_SECRET, "aws_secret_access_key", "%s", x->c->secret ? x->c->secret : "");
	set_ph(x, PH_AWS_REGION, "aws_region", "%s", x->c->region ? x->c->region : "");
}

/* Replaces every {name} of a placeholder; other braces stay. */
static char *expand(const struct ctx *x, const char *tmpl)
{
	size_t cap = strlen(tmpl) + 1, len = 0;
	char *out = malloc(cap);

	for (const char *p = tmpl; out != NULL && *p != '\0';) {
		const char *value = NULL;
		size_t skip = 1, vlen;
		for (int i = 0; i < PH_COUNT && *p == '{'; i++) {
			size_t n = strlen(x->ph[i].name);
			if (strncmp(p + 1, x->ph[i].name, n) == 0 && p[n + 1] == '}') {
				value = x->ph[i].value;
				skip = n + 2;
			}
		}
		vlen = value ? strlen(value) : 1;
		if (len + vlen + 1 > cap) {
			char *grown = realloc(out, cap = 2 * (len + vlen + 1));
			if (grown == NULL) {
				free(out);
				return NULL;
			}
			out = grown;
		}
		memcpy(out + len, value ? value : p, vlen);
		len += vlen;
		p += skip;
	}
	if (out != NULL)
		out[len] = '\0';
	return out;
}

/* The environment of a client: edsim-conform's, PATH with bin_dir first,
 * and EDSIM_<PLACEHOLDER> for each placeholder. */
static char **client_env(const struct ctx *x)
{
	const char *path = getenv("PATH");
	size_t n = 0, k = 0, len;
	char **env;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + PH_COUNT + 2, sizeof *env)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "PATH=", 5) != 0)
			env[k++] = strdup(environ[i]);
	for (int i = 0; i < PH_COUNT; i++) {
		char buf[1200], *p;
		snprintf(buf, sizeof buf, "EDSIM_%s=%s", x->ph[i].name, x->ph[i].value);
		for (p = buf + 6; *p != '='; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		env[k++] = strdup(buf);
	}
	len = strlen(x->o->bin_dir) + strlen(x->cl->dir) + (path ? strlen(path) : 16) + 8;
	if ((env[k] = malloc(len)) != NULL)
		snprintf(env[k], len, "PATH=%s:%s:%s", x->o->bin_dir, x->cl->dir,
		         path ? path : "/usr/bin:/bin");
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* Runs one shell command of the client until it ends or the deadline. */
static int run_shell(struct ctx *x, const char *tmpl, double deadline, int *status)
{
	char log[4200], *cmd = expand(x, tmpl), **env = client_env(x);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	int killed = 0;
	pid_t pid;

	snprintf(log, sizeof log, "%s/client.log", x->dir);
	pid = cmd && env ? spawn(argv, env, log, x->dir) : -1;
	if (pid > 0)
		killed = wait_until(pid, deadline, status);
	else
		*status = 127 << 8;
	free(cmd);
	free_env(env);
	return killed;
}

static void note_status(struct ctx *x, int status, int killed)
{
	x->timed_out |= killed;
	x->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	x->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* Records from before the client started are not its. */
static json_t *since_start(json_t *list, const char *time_key, double started)
{
	json_t *kept = json_array(), *item;
	size_t i;

	json_array_foreach(list, i, item)
	{
		double t = clock_parse(json_string_value(json_object_get(item, time_key)));
		if (isnan(t) || t >= started - 0.001)
			json_array_append(kept, item);
	}
	json_decref(list);
	return kept;
}

/* ---- the control API ------------------------------------------------------ */

static size_t to_buffer(char *data, size_t size, size_t n, void *arg)
{
	FILE *f = arg;

	return fwrite(data, size, n, f);
}

static json_t *get_json(const struct ctx *x, const char *path, long *status)
{
	char url[512], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CURL *h = curl_easy_init();
	json_t *j = NULL;

	*status = 0;
	if (f == NULL || h == NULL) {
		if (f != NULL)
			fclose(f);
		free(text);
		curl_easy_cleanup(h);
		return NULL;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", x->control, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buffer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	fclose(f);
	if (*status == 200)
		j = json_loadb(text, len, 0, NULL);
	free(text);
	curl_easy_cleanup(h);
	return j;
}

static json_t *get_list(const struct ctx *x, const char *path, const char *key)
{
	long status;
	json_t *j = get_json(x, path, &status), *list;

	list = json_incref(json_object_get(j, key));
	json_decref(j);
	return list ? list : json_array();
}

static json_t *transcripts(const struct ctx *x)
{
	json_t *list = json_array();

	for (int n = 1; n < 10000; n++) {
		char path[96];
		long status;
		json_t *t;
		snprintf(path, sizeof path, "/api/v1/connections/%d/transcript", n);
		if ((t = get_json(x, path, &status)) == NULL)
			break;
		json_array_append_new(list, t);
	}
	return list;
}

/* An MTA decides by itself: wait until the message is stored, or edsim
 * refused it for good (a 5xx), or nothing happened for a while. */
static int mta_decided(const struct ctx *x)
{
	json_t *events = get_list(x, "/api/v1/events?since=0", "events"), *e;
	size_t i;
	int decided = 0;

	json_array_foreach(events, i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		json_int_t code = json_integer_value(json_object_get(e, "code"));
		if (type != NULL && strcmp(type, "accepted") == 0)
			decided = 1;
		const char *stage = json_string_value(json_object_get(e, "stage"));
		if (code >= 500 && (stage == NULL || strcmp(stage, "relay") != 0))
			decided = 1;
	}
	json_decref(events);
	return decided;
}

static int exited_ok(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* start, submit, wait for the outcome, stop. An MTA tells its result when
 * it stops (its queue's verdict), so stop's exit status is the client's. */
static void run_mta(struct ctx *x, double deadline)
{
	int status = 0, killed, started;

	killed = run_shell(x, x->cl->start, deadline, &status);
	started = !killed && exited_ok(status);
	if (started) {
		killed = run_shell(x, x->cl->submit, deadline, &status);
		started = !killed && exited_ok(status);
	}
	while (started && clock_wall() < deadline && !mta_decided(x))
		sleep_ms(200);
	if (started && clock_wall() >= deadline)
		x->timed_out = 1;
	else if (started) /* let a retry or a duplicate show */
		sleep_ms((long)(x->cl->settle * 1000));
	x->timed_out |= killed;
	if (!started) { /* start or submit failed: that is the result */
		note_status(x, status, killed);
		run_shell(x, x->cl->stop, clock_wall() + 20, &status);
		return;
	}
	killed = run_shell(x, x->cl->stop, clock_wall() + 20, &status);
	note_status(x, status, killed);
}

static void run_client(struct ctx *x)
{
	double deadline = x->started + x->o->budget;
	char script[4600];
	int status = 0, killed;

	switch (x->cl->kind) {
	case CLIENT_COMMAND:
		killed = run_shell(x, x->cl->command, deadline, &status);
		note_status(x, status, killed);
		break;
	case CLIENT_EXPECT:
		snprintf(script, sizeof script, "expect -f '%s/%s'", x->cl->dir, x->cl->script);
		killed = run_shell(x, script, deadline, &status);
		note_status(x, status, killed);
		break;
	case CLIENT_MTA:
		run_mta(x, deadline);
		break;
	}
	sleep_ms(300); /* the last replies reach edsim's records */
	x->ended = clock_wall();
}

static json_t *client_output(const struct ctx *x)
{
	char path[4200], *text = NULL;
	FILE *f;
	long size = 0;
	json_t *out;

	snprintf(path, sizeof path, "%s/client.log", x->dir);
	if ((f = fopen(path, "rb")) == NULL)
		return json_string("");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > OUTPUT_MAX ? size - OUTPUT_MAX : 0, SEEK_SET);
	text = calloc(1, OUTPUT_MAX + 1);
	if (text != NULL && fread(text, 1, OUTPUT_MAX, f) == 0)
		text[0] = '\0';
	fclose(f);
	out = json_text(text ? text : "", text ? strlen(text) : 0);
	free(text);
	return out;
}

static json_t *evidence(const struct ctx *x)
{
	static const char *const kinds[] = {"command", "mta", "expect"};
	json_t *protocols = json_array();

	if (x->cl->smtp)
		json_array_append_new(protocols, json_string("smtp"));
	if (x->cl->https)
		json_array_append_new(protocols, json_string("https"));
	return json_pack(
	    "{s:O, s:{s:s, s:s, s:o}, s:{s:f, s:f, s:f, s:b}, s:{s:i, s:i, s:o}, "
	    "s:{s:s, s:s, s:s, s:s}, s:{s:{s:i, s:i, s:i, s:i}, s:o, s:o, s:o}}",
	    "case", x->c->info, "client", "name", x->cl->name, "kind", kinds[x->cl->kind],
	    "protocols", protocols, "run", "started", x->started, "ended", x->ended, "budget",
	    x->o->budget, "timed_out", x->timed_out, "client_result", "exit_code", x->exit_code,
	    "signal", x->signal, "output", client_output(x), "message", "message_id",
	    x->ph[PH_MESSAGE_ID].value, "subject", x->ph[PH_SUBJECT].value, "from",
	    x->ph[PH_FROM].value, "to", x->ph[PH_TO].value, "edsim", "ports", "smtp", x->smtp,
	    "smtps", x->smtps, "https", x->https, "control", x->control, "events",
	    since_start(get_list(x, "/api/v1/events?since=0", "events"), "time", x->started),
	    "messages", get_list(x, "/api/v1/messages?limit=1000", "messages"), "transcripts",
	    since_start(transcripts(x), "opened", x->started));
}

json_t *run_case(const struct run_opts *o, const struct conform_case *c,
                 const struct conform_client *cl, char *err, size_t errlen)
{
	struct ctx x = {.o = o, .c = c, .cl = cl};
	char path[4200];
	json_t *ev = NULL;

	snprintf(x.dir, sizeof x.dir, "%s/cases/%s/%s", o->out, cl->name, c->id);
	if (make_dirs(x.dir) < 0 || write_config(&x) < 0) {
		snprintf(err, errlen, "cannot write %s", x.dir);
		return NULL;
	}
	if (start_edsim(&x, err, errlen) < 0) {
		stop_edsim(&x);
		return NULL;
	}
	fill_placeholders(&x);
	if (write_message(&x) < 0) {
		snprintf(err, errlen, "cannot write %s", x.ph[PH_EML].value);
		stop_edsim(&x);
		return NULL;
	}
	x.started = clock_wall();
	run_client(&x);
	ev = evidence(&x);
	stop_edsim(&x);
	snprintf(path, sizeof path, "%s/evidence.json", x.dir);
	if (ev != NULL)
		json_dump_file(ev, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	else
		snprintf(err, errlen, "cannot assemble the evidence of %s", c->id);
	return ev;
}
