/*
 * test_cli_args.c - slnfctl's command line and requests: options before
 * or after the command, their defaults from the environment, usage errors
 * (unknown command or option, wrong argument count, bad numbers and
 * addresses, -t with --token-file), the token file's first token, and the
 * method, path and query every command sends, percent-encoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/endpoint.h"

#define ARGV(...)                                                                                  \
	(char *[])                                                                                 \
	{                                                                                          \
		"slnfctl", __VA_ARGS__, NULL                                                       \
	}
#define ARGC(...) ((int)(sizeof((char *[]){"slnfctl", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, env_url, env_tok, ...)                                                            \
	cli_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), env_url, env_tok, o, err, sizeof(err))

static char err[CLI_ERR_MAX];

static void test_defaults(void **state)
{
	struct cli_opts o;

	assert_int_equal(PARSE(&o, NULL, NULL, "tenants"), 0);
	assert_string_equal(o.server, CLI_DEFAULT_URL);
	assert_null(o.token);
	assert_int_equal(o.output, CLI_OUT_TABLE);
	assert_int_equal(o.cmd, CLI_CMD_TENANTS);
	assert_int_equal(o.nargs, 0);
	assert_int_equal(PARSE(&o, "http://orch:1", "envtok", "pools"), 0);
	assert_string_equal(o.server, "http://orch:1");
	assert_string_equal(o.token, "envtok");
	assert_int_equal(PARSE(&o, "", "", "pools"), 0);
	assert_string_equal(o.server, CLI_DEFAULT_URL);
	assert_null(o.token);
}

static void test_options(void **state)
{
	struct cli_opts o;

	assert_int_equal(PARSE(&o, "http://env:1", "envtok", "-s", "http://a:2", "-t", "tok", "-o",
			       "json", "instances"),
			 0);
	assert_string_equal(o.server, "http://a:2");
	assert_string_equal(o.token, "tok");
	assert_int_equal(o.output, CLI_OUT_JSON);
	assert_int_equal(o.cmd, CLI_CMD_INSTANCES);
	/* long forms, "=", glued short values, options after the command */
	assert_int_equal(
	    PARSE(&o, NULL, NULL, "stats", "--server=http://b:3", "i1", "-ojson", "--token", "x"),
	    0);
	assert_string_equal(o.server, "http://b:3");
	assert_string_equal(o.token, "x");
	assert_int_equal(o.output, CLI_OUT_JSON);
	assert_int_equal(o.cmd, CLI_CMD_STATS);
	assert_int_equal(o.nargs, 1);
	assert_string_equal(o.args[0], "i1");
	assert_int_equal(PARSE(&o, NULL, "envtok", "--token-file", "/f", "-o", "table", "pools"),
			 0);
	assert_string_equal(o.token_file, "/f");
	assert_null(o.token); /* the file wins over the environment */
	assert_int_equal(o.output, CLI_OUT_TABLE);
	assert_int_equal(PARSE(&o, NULL, NULL, "-h"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE(&o, NULL, NULL, "--help", "bogus-ignored-later"), -EINVAL);
	/* "--" ends the options */
	assert_int_equal(PARSE(&o, NULL, NULL, "delete", "pool", "--", "-odd"), 0);
	assert_string_equal(o.args[1], "-odd");
}

static void test_usage_errors(void **state)
{
	struct cli_opts o;

	assert_int_equal(PARSE(&o, NULL, NULL, "-o"), -EINVAL);
	assert_non_null(strstr(err, "-o needs a value"));
	assert_int_equal(PARSE(&o, NULL, NULL, "-o", "yaml", "pools"), -EINVAL);
	assert_non_null(strstr(err, "unknown output format 'yaml'"));
	assert_int_equal(PARSE(&o, NULL, NULL, "--bogus", "pools"), -EINVAL);
	assert_non_null(strstr(err, "unknown option '--bogus'"));
	assert_int_equal(PARSE(&o, NULL, NULL, "frobnicate"), -EINVAL);
	assert_non_null(strstr(err, "unknown command 'frobnicate'"));
	assert_int_equal(PARSE(&o, NULL, NULL, "-t", "x"), -EINVAL);
	assert_non_null(strstr(err, "no command"));
	assert_int_equal(PARSE(&o, NULL, NULL, "tenants", "extra"), -EINVAL);
	assert_non_null(strstr(err, "tenants: expected tenants"));
	assert_int_equal(PARSE(&o, NULL, NULL, "scale", "p1"), -EINVAL);
	assert_non_null(strstr(err, "scale: expected scale POOL N"));
	assert_int_equal(PARSE(&o, NULL, NULL, "explain", "t1", "tcp", "1.2.3.4:1"), -EINVAL);
	assert_int_equal(PARSE(&o, NULL, NULL, "-t", "a", "--token-file", "f", "pools"), -EINVAL);
	assert_non_null(strstr(err, "not both"));
	assert_int_equal(PARSE(&o, NULL, NULL, "pools", "--port", "lan"), -EINVAL);
	assert_non_null(strstr(err, "--port is an option of explain"));
	assert_int_equal(PARSE(&o, NULL, NULL, "-s", "", "pools"), -EINVAL);
	assert_int_equal(
	    PARSE(&o, NULL, NULL, "delete", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"),
	    -EINVAL);
}

static void test_token_text(void **state)
{
	char tok[CLI_TOKEN_MAX + 1], big[CLI_TOKEN_MAX + 3];

	assert_int_equal(cli_token_from_text("# tokens\n\n   first \r\nsecond\n", tok, sizeof(tok)),
			 0);
	assert_string_equal(tok, "first");
	assert_int_equal(cli_token_from_text("only", tok, sizeof(tok)), 0);
	assert_string_equal(tok, "only");
	assert_int_equal(cli_token_from_text("# none\n\n", tok, sizeof(tok)), -ENOENT);
	assert_int_equal(cli_token_from_text("", tok, sizeof(tok)), -ENOENT);
	assert_int_equal(cli_token_from_text("a b\n", tok, sizeof(tok)), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cli_token_from_text(big, tok, sizeof(tok)), -ENAMETOOLONG);
}

static void test_token_file(void **state)
{
	char path[] = "/tmp/test_cli_tokensXXXXXX", tok[CLI_TOKEN_MAX + 1];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "# c\nabc\ndef\n", 12), 12);
	close(fd);
	assert_int_equal(cli_token_from_file(path, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "abc");
	unlink(path);
	assert_int_equal(cli_token_from_file(path, tok, sizeof(tok), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot read the token file"));
}

/* The request of a command line, which must parse. */
static int request(struct cli_request *rq, int argc, char **argv)
{
	struct cli_opts o;

	assert_int_equal(cli_parse_args(argc, argv, NULL, NULL, &o, err, sizeof(err)), 0);
	return cli_build_request(&o, rq, err, sizeof(err));
}

#define REQ(rq, ...) request(rq, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void expect(const char *method, const char *path, struct cli_request *rq)
{
	assert_string_equal(rq->method, method);
	assert_string_equal(rq->path, path);
}

static void test_endpoints(void **state)
{
	struct cli_request rq;

	assert_int_equal(REQ(&rq, "tenants"), 0);
	expect("GET", "/v1/tenants", &rq);
	assert_int_equal(REQ(&rq, "chains"), 0);
	expect("GET", "/v1/tenants", &rq);
	assert_int_equal(REQ(&rq, "chains", "t1"), 0);
	expect("GET", "/v1/tenants/t1", &rq);
	assert_int_equal(REQ(&rq, "pools"), 0);
	expect("GET", "/v1/pools", &rq);
	assert_int_equal(REQ(&rq, "instances"), 0);
	expect("GET", "/v1/instances", &rq);
	assert_int_equal(REQ(&rq, "stats"), 0);
	expect("GET", "/v1/stats", &rq);
	assert_int_equal(REQ(&rq, "stats", "i1"), 0);
	expect("GET", "/v1/instances/i1/stats", &rq);
	assert_string_equal(rq.name, "i1");
	assert_int_equal(REQ(&rq, "steering"), 0);
	expect("GET", "/v1/steering", &rq);
	assert_int_equal(REQ(&rq, "steering", "t1"), 0);
	expect("GET", "/v1/steering/t1", &rq);
	assert_int_equal(REQ(&rq, "flows"), 0);
	expect("GET", "/v1/flows", &rq);
	assert_string_equal(rq.body, "");
	assert_int_equal(REQ(&rq, "scale", "p1", "3"), 0);
	expect("POST", "/v1/pools/p1/scale", &rq);
	assert_string_equal(rq.body, "{\"instances\": 3}");
	assert_int_equal(REQ(&rq, "drain", "i2"), 0);
	expect("POST", "/v1/instances/i2/drain", &rq);
	assert_string_equal(rq.body, "");
	assert_int_equal(REQ(&rq, "create", "pool", "p.json"), 0);
	expect("POST", "/v1/pools", &rq);
	assert_string_equal(rq.body_file, "p.json");
	assert_string_equal(rq.kind, "pool");
	assert_int_equal(REQ(&rq, "create", "instances", "-"), 0);
	expect("POST", "/v1/instances", &rq);
	assert_int_equal(REQ(&rq, "delete", "tenant", "t1"), 0);
	expect("DELETE", "/v1/tenants/t1", &rq);
	assert_string_equal(rq.kind, "tenant");
	/* names are percent-encoded */
	assert_int_equal(REQ(&rq, "delete", "instance", "a b/c?"), 0);
	expect("DELETE", "/v1/instances/a%20b%2Fc%3F", &rq);
}

static void test_endpoint_errors(void **state)
{
	struct cli_request rq;

	assert_int_equal(REQ(&rq, "scale", "p1", "x"), -EINVAL);
	assert_non_null(strstr(err, "scale: N must be a number"));
	assert_int_equal(REQ(&rq, "scale", "p1", "3x"), -EINVAL);
	assert_int_equal(REQ(&rq, "scale", "p1", "99999999999999999999"), -EINVAL);
	assert_int_equal(REQ(&rq, "create", "widget", "f.json"), -EINVAL);
	assert_non_null(strstr(err, "unknown kind 'widget'"));
	assert_int_equal(REQ(&rq, "delete", "pools", ""), -EINVAL);
	assert_non_null(strstr(err, "empty name"));
	assert_int_equal(REQ(&rq, "explain", "t1", "tcp", "10.0.0.1", "10.0.0.2:80"), -EINVAL);
	assert_non_null(strstr(err, "'10.0.0.1' is not SRC:SPORT"));
	assert_int_equal(REQ(&rq, "explain", "t1", "tcp", "10.0.0.1:1", "10.0.0.300:80"), -EINVAL);
	assert_non_null(strstr(err, "is not DST:DPORT"));
	assert_int_equal(REQ(&rq, "explain", "t1", "tcp", "10.0.0.1:65536", "10.0.0.2:80"),
			 -EINVAL);
	assert_int_equal(REQ(&rq, "explain", "t1", "", "10.0.0.1:1", "10.0.0.2:80"), -EINVAL);
}

static void test_explain_query(void **state)
{
	struct cli_request rq;

	assert_int_equal(REQ(&rq, "explain", "t1", "tcp", "10.1.1.2:40000", "10.2.2.9:80"), 0);
	expect("GET",
	       "/v1/explain?tenant=t1&proto=tcp&src=10.1.1.2&sport=40000&dst=10.2.2.9&dport=80",
	       &rq);
	assert_int_equal(
	    REQ(&rq, "explain", "--port", "lan", "t 1", "udp", "1.2.3.4:0", "5.6.7.8:53"), 0);
	expect(
	    "GET",
	    "/v1/explain?tenant=t%201&proto=udp&src=1.2.3.4&sport=0&dst=5.6.7.8&dport=53&port=lan",
	    &rq);
}

static void test_url_helpers(void **state)
{
	char out[64], addr[16];
	unsigned port;

	assert_int_equal(cli_url_escape("a-b_c.d~e", out, sizeof(out)), 0);
	assert_string_equal(out, "a-b_c.d~e");
	assert_int_equal(cli_url_escape("&=%\xc3\xa9", out, sizeof(out)), 0);
	assert_string_equal(out, "%26%3D%25%C3%A9");
	assert_int_equal(cli_url_escape("abcd", out, 4), -ENAMETOOLONG);
	assert_int_equal(cli_url_escape("abc", out, 4), 0);
	assert_int_equal(cli_join_url("http://h:1/", "/v1/x", out, sizeof(out)), 0);
	assert_string_equal(out, "http://h:1/v1/x");
	assert_int_equal(cli_join_url("h:1", "/v1/x", out, sizeof(out)), 0);
	assert_string_equal(out, "http://h:1/v1/x");
	assert_int_equal(cli_join_url("https://h//", "/v1", out, sizeof(out)), 0);
	assert_string_equal(out, "https://h/v1");
	assert_int_equal(cli_join_url("http://a-very-long-host-name.example", "/v1", out, 20),
			 -ENAMETOOLONG);
	assert_int_equal(cli_split_endpoint("10.0.0.1:80", addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "10.0.0.1");
	assert_int_equal(port, 80);
	assert_int_equal(cli_split_endpoint(":80", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(cli_split_endpoint("10.0.0.1:", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(cli_split_endpoint("10.0.0.1:-1", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(cli_split_endpoint("host:80", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(cli_split_endpoint("1111.2222.3333.4444:1", addr, sizeof(addr), &port),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_usage_errors),    cmocka_unit_test(test_token_text),
	    cmocka_unit_test(test_token_file),	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_endpoint_errors), cmocka_unit_test(test_explain_query),
	    cmocka_unit_test(test_url_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
