/*
 * test_jsonw.c - the JSON text writer: its output parses back with jansson
 * to the same values, escapes, bad UTF-8, numbers, stamps.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonw.h"
#include "unit.h"

/* Parses the writer's text, which must be valid JSON. */
static json_t *parse(struct jsonw *w)
{
	char *text = jsonw_take(w);
	json_error_t error;
	json_t *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
	CU_ASSERT_PTR_NOT_NULL(v);
	free(text);
	return v;
}

static void test_strings_round_trip(void)
{
	static const char *const samples[] = {
	    "plain",    "quote \" and backslash \\", "tab\tnewline\ncr\r",
	    "\x01\x1f", "caf\xc3\xa9 \xe2\x82\xac",  "/slash/ stays",
	    "",
	};

	for (size_t i = 0; i < UNIT_COUNT(samples); i++) {
		struct jsonw w = {0};
		json_t *v;

		jsonw_str(&w, samples[i]);
		v = parse(&w);
		CU_ASSERT_STRING_EQUAL(json_string_value(v), samples[i]);
		json_decref(v);
	}
}

static void test_null_and_bad_utf8(void)
{
	struct jsonw w = {0};
	json_t *v;

	jsonw_str(&w, NULL);
	v = parse(&w);
	CU_ASSERT(json_is_null(v));
	json_decref(v);
	/* not UTF-8: every byte above 0x7f becomes '?', as json_text() does */
	jsonw_str(&w, "a\xff\xc3z");
	v = parse(&w);
	CU_ASSERT_STRING_EQUAL(json_string_value(v), "a??z");
	json_decref(v);
	/* an embedded NUL in a counted string is escaped */
	jsonw_strn(&w, "a\0b", 3);
	v = parse(&w);
	CU_ASSERT_EQUAL(json_string_length(v), 3);
	json_decref(v);
}

static void test_numbers_and_object(void)
{
	struct jsonw w = {0};
	json_t *v;

	jsonw_lit(&w, "{\"zero\":");
	jsonw_uint(&w, 0);
	jsonw_lit(&w, ",\"big\":");
	jsonw_uint(&w, UINT64_MAX / 2);
	jsonw_lit(&w, ",\"neg\":");
	jsonw_int(&w, -42);
	jsonw_lit(&w, ",\"min\":");
	jsonw_int(&w, -9223372036854775807LL - 1);
	jsonw_lit(&w, "}");
	v = parse(&w);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "zero")), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "big")),
	                (json_int_t)(UINT64_MAX / 2));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "neg")), -42);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "min")), -9223372036854775807LL - 1);
	json_decref(v);
}

static void test_time_and_reset(void)
{
	struct jsonw w = {0};
	char stamp[40];
	json_t *v;

	jsonw_lit(&w, "garbage that reset drops");
	jsonw_reset(&w);
	CU_ASSERT_EQUAL(w.len, 0);
	jsonw_time(&w, 1764770400.125);
	v = parse(&w);
	CU_ASSERT_STRING_EQUAL(json_string_value(v), "2025-12-03T14:00:00.125Z");
	json_decref(v);
	/* clock_format and clock_parse agree, and the text is CLOCK_STAMP_LEN long */
	clock_format(1764770400.999, stamp, sizeof stamp);
	CU_ASSERT_STRING_EQUAL(stamp, "2025-12-03T14:00:00.999Z");
	CU_ASSERT_EQUAL(strlen(stamp), CLOCK_STAMP_LEN);
	CU_ASSERT(fabs(clock_parse(stamp) - 1764770400.999) < 1e-6);
	clock_format(0, stamp, sizeof stamp);
	CU_ASSERT_STRING_EQUAL(stamp, "1970-01-01T00:00:00.000Z");
	/* an empty writer takes as "" */
	{
		char *text = jsonw_take(&w);
		CU_ASSERT_STRING_EQUAL(text, "");
		free(text);
	}
	jsonw_free(&w);
}

static void test_grows(void)
{
	struct jsonw w = {0};
	json_t *v;

	jsonw_lit(&w, "[");
	for (int i = 0; i < 5000; i++) {
		if (i > 0)
			jsonw_lit(&w, ",");
		jsonw_str(&w, "a string long enough to make the buffer grow several times");
	}
	jsonw_lit(&w, "]");
	v = parse(&w);
	CU_ASSERT_EQUAL(json_array_size(v), 5000);
	json_decref(v);
}

int register_jsonw_tests(void)
{
	static const struct unit_test tests[] = {
	    {"strings round-trip through jansson (escapes, control bytes, UTF-8)",
	     test_strings_round_trip},
	    {"NULL is null; bad UTF-8 becomes '?'; embedded NUL escaped", test_null_and_bad_utf8},
	    {"unsigned and signed numbers, extremes", test_numbers_and_object},
	    {"times as clock_format writes them; reset; an empty take", test_time_and_reset},
	    {"a long record grows the buffer", test_grows},
	};
	return unit_add_suite("jsonw", tests, UNIT_COUNT(tests));
}
