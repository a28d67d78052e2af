/*
 * report.c - what the three report writers share: the verdict order, safe
 * reads of the result documents, escaping for XML and HTML, and writing a
 * report file in one go.
 *
 * The documents come from the grader or from a file on disk, so every read
 * tolerates a missing or mistyped field and falls back to a default. Files
 * are written as path.tmp, synced and renamed, so a CI job that picks up a
 * report never reads half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grade.h"
#include "report.h"

int report_rank(const char *verdict, int strict)
{
	int rank = grade_rank(verdict);

	return (strict && rank == 3) ? 4 : rank;
}

int report_is_failure(const char *verdict, int strict)
{
	return report_rank(verdict, strict) == 4;
}

const char *report_str(const json_t *obj, const char *key, const char *dflt)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : dflt;
}

double report_num(const json_t *obj, const char *key, double dflt)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_number(v) ? json_number_value(v) : dflt;
}

const json_t *report_find_result(const json_t *results, const char *case_id, const char *client)
{
	size_t i;
	const json_t *r;

	json_array_foreach(results, i, r)
	{
		const char *c = report_str(r, "case", NULL);
		const char *n = report_str(r, "client", NULL);

		if (c && n && strcmp(c, case_id) == 0 && strcmp(n, client) == 0)
			return r;
	}
	return NULL;
}

int report_has_string(const json_t *a, const char *s)
{
	size_t i;
	const json_t *v;

	json_array_foreach(a, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

json_t *report_clients(const json_t *report)
{
	json_t *out = json_array();
	size_t i;
	const json_t *v;

	json_array_foreach(json_object_get(report, "clients"), i, v)
	{
		if (json_is_string(v) && !report_has_string(out, json_string_value(v)))
			json_array_append_new(out, json_string(json_string_value(v)));
	}
	json_array_foreach(json_object_get(report, "results"), i, v)
	{
		const char *name = report_str(v, "client", NULL);

		if (name && !report_has_string(out, name))
			json_array_append_new(out, json_string(name));
	}
	return out;
}

/* A control character XML 1.0 does not allow, even as a reference. */
static int is_forbidden_control(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

/* U+FFFE and U+FFFF (EF BF BE, EF BF BF) are not XML characters either. */
static int is_noncharacter(const unsigned char *p)
{
	return p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF);
}

static const char *reference_of(unsigned char c, int attr)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	case '\t':
		return attr ? "&#9;" : NULL;
	case '\n':
		return attr ? "&#10;" : NULL;
	case '\r':
		return attr ? "&#13;" : NULL;
	default:
		return NULL;
	}
}

void report_escape(FILE *f, const char *s, int attr)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p) {
		const char *ref = reference_of(*p, attr);

		if (ref != NULL) {
			fputs(ref, f);
			p++;
		} else if (is_forbidden_control(*p)) {
			fputs("\xEF\xBF\xBD", f);
			p++;
		} else if (is_noncharacter(p)) {
			fputs("\xEF\xBF\xBD", f);
			p += 3;
		} else {
			fputc(*p++, f);
		}
	}
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes buf into a new file tmp and syncs it; 0, or -1 with err filled. */
static int write_synced(const char *tmp, const char *buf, size_t len, char *err, size_t errlen)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

int report_write_file(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof ".tmp");
	int rc = -1;

	if (tmp == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", sizeof ".tmp");
	if (write_synced(tmp, buf, len, err, errlen) == 0) {
		rc = rename(tmp, path);
		if (rc != 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int report_render_file(const json_t *report, void (*render)(FILE *, const json_t *),
                       const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	render(f, report);
	if (fclose(f) != 0) {
		free(buf);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	rc = report_write_file(path, buf, len, err, errlen);
	free(buf);
	return rc;
}
