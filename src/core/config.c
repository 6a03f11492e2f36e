/*
 * config.c - slnfd's configuration: one JSON file, validated in one pass.
 *
 * The schema is written out as straight-line code over a few typed getters
 * ("an optional unsigned in a range, with a default", "a string from this
 * character set", "one of these words"), so each parse_* function reads
 * like its section of docs/config.md. Every object's keys are checked
 * against the keys it may hold, so a typo is an error instead of a setting
 * silently ignored.
 *
 * Errors are sticky: the first one is kept in the parse context with its
 * file, JSON path and reason, and every getter does nothing once it is set.
 * A section can therefore be read without testing a return code after every
 * field; code that goes on to use a parsed value as an index tests c->rc
 * first.
 *
 * A chain element belongs to its NF: only "nf" is read here, and the element
 * itself is handed on (borrowed from cfg->root) for the NF's create() to
 * validate. Nothing here needs the DPDK EAL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "slnf/config.h"
#include "slnf/pkt.h"

#define PATH_LEN	128	   /* a JSON path such as "tenants[3].match.vlans[12]" */
#define CONFIG_FILE_MAX (16 << 20) /* refuse to read anything larger */
#define LCORE_LIMIT	1024	   /* lcore ids are below this */

struct ctx {
	const char *file;
	struct slnf_error *err;
	int rc; /* the first error, 0 while there is none */
};

/* An object being read, with its path; json NULL means "absent", and every
 * getter then stores its default. */
struct obj {
	json_t *json;
	char path[PATH_LEN];
};

/* What a string field may hold. */
struct text_rule {
	size_t max;		      /* longest accepted length in bytes */
	bool (*ok)(unsigned char ch); /* accepted characters */
	const char *allowed;	      /* the same, for people */
};

/* ---- JSON paths and error reporting ---- */

static void pathf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

/* The path of key inside the object at parent ("" is the top level). */
static void path_key(char out[PATH_LEN], const char *parent, const char *key)
{
	if (parent[0])
		pathf(out, PATH_LEN, "%s.%s", parent, key);
	else
		pathf(out, PATH_LEN, "%s", key);
}

static void vfail(struct ctx *c, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void vfail(struct ctx *c, const char *field, const char *fmt, va_list ap)
{
	char reason[SLNF_ERROR_MAX];

	if (c->rc)
		return;
	vsnprintf(reason, sizeof(reason), fmt, ap);
	slnf_errorf(c->err, EINVAL, c->file, field, "%s", reason);
	c->rc = -EINVAL;
}

/* Record the first error: field is a full JSON path. */
static void fail(struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct ctx *c, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, field, fmt, ap);
	va_end(ap);
}

/* The same for the member key of the object at parent. */
static void fail_at(struct ctx *c, const char *parent, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_at(struct ctx *c, const char *parent, const char *key, const char *fmt, ...)
{
	char field[PATH_LEN];
	va_list ap;

	path_key(field, parent, key);
	va_start(ap, fmt);
	vfail(c, field, fmt, ap);
	va_end(ap);
}

/* "a, b, c" from a NULL-terminated list, for messages. */
static const char *word_list(char *buf, size_t size, const char *const words[])
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; words[i] && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%s", i ? ", " : "", words[i]);
	return buf;
}

/* Index of word in a NULL-terminated list, or -1. */
static int word_index(const char *const words[], const char *word)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(words[i], word))
			return i;
	return -1;
}

/* ---- typed values ---- */

static const char *type_label(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* true when v has type t (JSON_TRUE stands for either boolean). */
static bool expect(struct ctx *c, const json_t *v, const char *field, json_type t)
{
	json_type got = json_typeof(v);

	if (c->rc)
		return false;
	if (got == JSON_FALSE)
		got = JSON_TRUE;
	if (got == t)
		return true;
	fail(c, field, "expected %s, got %s", type_label(t), type_label(got));
	return false;
}

static void check_uint(struct ctx *c, const json_t *v, const char *field, long long min,
		       long long max, unsigned *out)
{
	long long n;

	if (!expect(c, v, field, JSON_INTEGER))
		return;
	n = json_integer_value(v);
	if (n < min || n > max) {
		fail(c, field, "%lld is out of range (expected %lld..%lld)", n, min, max);
		return;
	}
	*out = (unsigned)n;
}

/* s (from the file, or the default when is_default) against rule. */
static bool check_text(struct ctx *c, const char *field, const char *s, size_t len,
		       const struct text_rule *rule, bool is_default)
{
	const char *origin = is_default ? "default " : "";

	if (c->rc)
		return false;
	if (len == 0) {
		fail(c, field, "must not be empty");
		return false;
	}
	if (strlen(s) != len) {
		fail(c, field, "contains a NUL character");
		return false;
	}
	if (len > rule->max) {
		fail(c, field, "%s'%s' is too long (at most %zu characters)", origin, s, rule->max);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (rule->ok(*p))
			continue;
		if (*p >= ' ' && *p < 0x7f)
			fail(c, field, "%s'%s' contains '%c' (allowed: %s)", origin, s, *p,
			     rule->allowed);
		else
			fail(c, field, "%s'%s' contains character 0x%02x (allowed: %s)", origin, s,
			     *p, rule->allowed);
		return false;
	}
	return true;
}

/* A JSON string checked against rule and copied to out (size > rule->max). */
static bool check_string(struct ctx *c, const json_t *v, const char *field,
			 const struct text_rule *rule, char *out, size_t size)
{
	if (!expect(c, v, field, JSON_STRING) ||
	    !check_text(c, field, json_string_value(v), json_string_length(v), rule, false))
		return false;
	snprintf(out, size, "%s", json_string_value(v));
	return true;
}

static bool name_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-';
}

static bool host_char(unsigned char ch)
{
	return name_char(ch) || ch == '.';
}

static bool ifname_char(unsigned char ch)
{
	return ch > ' ' && ch < 0x7f && ch != '/' && ch != ':' && ch != ',';
}

/* Paths end up in DPDK device arguments, where ',' separates arguments. */
static bool path_char(unsigned char ch)
{
	return ch >= ' ' && ch < 0x7f && ch != ',';
}

static bool lcore_char(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ch == '-' || ch == ',';
}

static bool pci_char(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
	       ch == ':' || ch == '.';
}

#define NAME_ALLOWED "letters, digits, '_' and '-'"

static const struct text_rule name_rule = {SLNF_NAME_MAX - 1, name_char, NAME_ALLOWED};
static const struct text_rule prefix_rule = {63, name_char, NAME_ALLOWED};
static const struct text_rule ifname_rule = {15, ifname_char,
					     "printable characters except space, '/', ':' and ','"};
static const struct text_rule file_rule = {PATH_MAX - 1, path_char,
					   "printable characters except ','"};
static const struct text_rule socket_rule = {sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
					     path_char, "printable characters except ','"};
static const struct text_rule lcores_rule = {63, lcore_char, "digits, '-' and ','"};
static const struct text_rule pci_rule = {63, pci_char, "hex digits, ':' and '.'"};
static const struct text_rule host_rule = {63, host_char, "letters, digits, '.', '_' and '-'"};

/* ---- getters: one member of an object ---- */

static json_t *member(const struct obj *o, const char *key, char field[PATH_LEN])
{
	path_key(field, o->path, key);
	return o->json ? json_object_get(o->json, key) : NULL;
}

static bool has(const struct obj *o, const char *key)
{
	return o->json && json_object_get(o->json, key);
}

static void require(struct ctx *c, const struct obj *o, const char *key)
{
	char field[PATH_LEN];

	if (!member(o, key, field))
		fail(c, field, "missing (required)");
}

static void get_uint(struct ctx *c, const struct obj *o, const char *key, long long min,
		     long long max, unsigned def, unsigned *out)
{
	char field[PATH_LEN];
	json_t *v = member(o, key, field);

	*out = def;
	if (v)
		check_uint(c, v, field, min, max, out);
}

static void get_bool(struct ctx *c, const struct obj *o, const char *key, bool def, bool *out)
{
	char field[PATH_LEN];
	json_t *v = member(o, key, field);

	*out = def;
	if (v && expect(c, v, field, JSON_TRUE))
		*out = json_is_true(v);
}

/* A string member; absent, out gets def (checked too) or stays empty when
 * def is NULL. Returns true when out holds a checked, non-empty value. */
static bool get_text(struct ctx *c, const struct obj *o, const char *key, const char *def,
		     const struct text_rule *rule, char *out, size_t size)
{
	char field[PATH_LEN];
	json_t *v = member(o, key, field);

	out[0] = '\0';
	if (v)
		return check_string(c, v, field, rule, out, size);
	if (!def || !check_text(c, field, def, strlen(def), rule, true))
		return false;
	snprintf(out, size, "%s", def);
	return true;
}

/* One of words (what names the kind, for the message); absent: def. */
static int get_choice(struct ctx *c, const struct obj *o, const char *key, const char *what,
		      const char *const words[], int def)
{
	char field[PATH_LEN], list[256];
	json_t *v = member(o, key, field);
	int i;

	if (!v || !expect(c, v, field, JSON_STRING))
		return def;
	i = word_index(words, json_string_value(v));
	if (i >= 0)
		return i;
	fail(c, field, "unknown %s '%s' (expected one of %s)", what, json_string_value(v),
	     word_list(list, sizeof(list), words));
	return def;
}

static void check_keys(struct ctx *c, const struct obj *o, const char *const keys[])
{
	char field[PATH_LEN], list[256];

	for (void *it = json_object_iter(o->json); it && !c->rc;
	     it = json_object_iter_next(o->json, it)) {
		const char *key = json_object_iter_key(it);

		if (word_index(keys, key) >= 0)
			continue;
		path_key(field, o->path, key);
		fail(c, field, "unknown key (expected one of %s)",
		     word_list(list, sizeof(list), keys));
	}
}

/* The object at o.key, its keys checked against keys. Absent: out->json NULL. */
static void get_object(struct ctx *c, const struct obj *o, const char *key,
		       const char *const keys[], struct obj *out)
{
	json_t *v = member(o, key, out->path);

	out->json = NULL;
	if (!v || !expect(c, v, out->path, JSON_OBJECT))
		return;
	out->json = v;
	check_keys(c, out, keys);
}

/* The array at o.key with min..max elements; returns its size, 0 when it is
 * absent or wrong. field gets its path. */
static size_t get_array(struct ctx *c, const struct obj *o, const char *key, size_t min, size_t max,
			json_t **out, char field[PATH_LEN])
{
	json_t *v = member(o, key, field);
	size_t n;

	*out = NULL;
	if (!v || !expect(c, v, field, JSON_ARRAY))
		return 0;
	n = json_array_size(v);
	if (n < min || n > max) {
		fail(c, field, "has %zu elements (expected %zu..%zu)", n, min, max);
		return 0;
	}
	*out = v;
	return n;
}

/* Element i of array (at path) as an object; keys NULL: not checked. */
static bool get_element(struct ctx *c, json_t *array, const char *path, size_t i,
			const char *const keys[], struct obj *out)
{
	json_t *v = json_array_get(array, i);

	pathf(out->path, sizeof(out->path), "%s[%zu]", path, i);
	out->json = NULL;
	if (!expect(c, v, out->path, JSON_OBJECT))
		return false;
	out->json = v;
	if (keys)
		check_keys(c, out, keys);
	return !c->rc;
}

/* Parses element i of an array of objects into cfg. */
typedef void (*parse_element_fn)(struct ctx *c, const struct obj *o, struct slnf_config *cfg,
				 unsigned i);

/* Each element of the array at o.key (min..max objects, keys checked) goes
 * to parse in turn; *count follows the elements parsed so far. */
static void get_objects(struct ctx *c, const struct obj *o, const char *key, size_t min, size_t max,
			const char *const keys[], parse_element_fn parse, struct slnf_config *cfg,
			unsigned *count)
{
	char path[PATH_LEN];
	struct obj e;
	json_t *a;
	size_t n = get_array(c, o, key, min, max, &a, path);

	for (unsigned i = 0; i < n && get_element(c, a, path, i, keys, &e); i++) {
		parse(c, &e, cfg, i);
		*count = i + 1;
	}
}

/* ---- values with a syntax of their own ---- */

static bool unicast_ipv4(uint32_t a)
{
	return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) < 0xe;
}

static bool unicast_mac(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

static void format_mac(char out[18], const uint8_t m[6])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static bool check_mac(struct ctx *c, const json_t *v, const char *field, uint8_t mac[6])
{
	if (!expect(c, v, field, JSON_STRING))
		return false;
	if (slnf_parse_mac(json_string_value(v), mac))
		fail(c, field, "'%s' is not a MAC address (expected e.g. 02:00:00:00:00:01)",
		     json_string_value(v));
	else if (!unicast_mac(mac))
		fail(c, field, "'%s' is not a unicast MAC address", json_string_value(v));
	return !c->rc;
}

static void check_ipv4(struct ctx *c, const json_t *v, const char *field, uint32_t *ip)
{
	if (!expect(c, v, field, JSON_STRING))
		return;
	if (slnf_parse_ipv4(json_string_value(v), ip))
		fail(c, field, "'%s' is not an IPv4 address (expected e.g. 10.0.0.1)",
		     json_string_value(v));
	else if (!unicast_ipv4(*ip))
		fail(c, field, "'%s' is not a unicast host address", json_string_value(v));
}

/* An interface address: "a.b.c.d/len", a unicast host address that is not
 * the network or broadcast address of its prefix (for len < 31). */
static void check_host_prefix(struct ctx *c, const json_t *v, const char *field,
			      struct slnf_ipv4_prefix *out)
{
	const char *s;
	uint32_t host;

	if (!expect(c, v, field, JSON_STRING))
		return;
	s = json_string_value(v);
	if (!strchr(s, '/') || slnf_parse_prefix(s, out)) {
		fail(c, field,
		     "'%s' is not an address with prefix length (expected e.g. 10.0.0.1/24)", s);
		return;
	}
	host = out->len == 0 ? ~0u : out->len >= 32 ? 0 : ~0u >> out->len;
	if (out->len == 0)
		fail(c, field, "'%s': prefix length must be 1..32", s);
	else if (!unicast_ipv4(out->addr))
		fail(c, field, "'%s' is not a unicast host address", s);
	else if (out->len < 31 && !(out->addr & host))
		fail(c, field, "'%s' is the network address of its prefix, not a host address", s);
	else if (out->len < 31 && (out->addr & host) == host)
		fail(c, field, "'%s' is the broadcast address of its prefix, not a host address",
		     s);
}

/* A reference to a port by name; returns its index or -1. */
static int check_port_ref(struct ctx *c, const json_t *v, const char *field,
			  const struct slnf_config *cfg)
{
	char list[SLNF_MAX_PORTS * SLNF_NAME_MAX + 2 * SLNF_MAX_PORTS];
	const char *names[SLNF_MAX_PORTS + 1];
	int i;

	if (!expect(c, v, field, JSON_STRING))
		return -1;
	i = slnf_config_port_index(cfg, json_string_value(v));
	if (i >= 0)
		return i;
	for (unsigned p = 0; p < cfg->n_ports; p++)
		names[p] = cfg->ports[p].name;
	names[cfg->n_ports] = NULL;
	fail(c, field, "unknown port '%s' (ports are: %s)", json_string_value(v),
	     word_list(list, sizeof(list), names));
	return -1;
}

/* -l: "0", "0-3", "0,2,4"; each lcore once, workers.count in all. */
static void check_lcores(struct ctx *c, const char *field, const char *s, unsigned workers)
{
	static const char *const usage = "expected e.g. \"0\", \"0-3\" or \"0,2,4\"";
	uint8_t seen[LCORE_LIMIT / 8] = {0};
	unsigned count = 0;
	const char *p = s;

	while (!c->rc) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || lo >= LCORE_LIMIT)
			break;
		p = end;
		if (*p == '-') {
			hi = strtoul(++p, &end, 10);
			if (end == p || hi >= LCORE_LIMIT || hi < lo)
				break;
			p = end;
		}
		for (unsigned long l = lo; l <= hi; l++, count++) {
			if (seen[l / 8] & (1u << (l % 8)))
				fail(c, field, "'%s' lists lcore %lu twice", s, l);
			seen[l / 8] |= 1u << (l % 8);
		}
		if (*p == '\0') {
			if (count != workers)
				fail(c, field,
				     "'%s' lists %u lcores but workers.count is %u (one worker per "
				     "lcore)",
				     s, count, workers);
			return;
		}
		if (*p++ != ',')
			break;
	}
	fail(c, field, "'%s' is not an lcore list below %d (%s)", s, LCORE_LIMIT, usage);
}

/* "0000:03:00.0" or "03:00.0". */
static void check_pci(struct ctx *c, const char *parent, const char *s)
{
	unsigned d, b, dev, f;
	int n = -1;

	if (sscanf(s, "%4x:%2x:%2x.%1x%n", &d, &b, &dev, &f, &n) == 4 && n == (int)strlen(s))
		return;
	n = -1;
	if (sscanf(s, "%2x:%2x.%1x%n", &b, &dev, &f, &n) == 3 && n == (int)strlen(s))
		return;
	fail_at(c, parent, "pci", "'%s' is not a PCI address (expected e.g. 0000:03:00.0)", s);
}

/* ---- sections ---- */

static const char *const top_keys[] = {"name",	"role",	   "eal",   "workers",
				       "mbufs", "control", "store", "neighbours",
				       "ports", "tenants", NULL};

enum { ROLE_NF, ROLE_STEER };
static const char *const roles[] = {[ROLE_NF] = "nf", [ROLE_STEER] = "steer", NULL};

static void parse_role(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	int role = get_choice(c, top, "role", "role", roles, ROLE_NF);

	snprintf(cfg->role, sizeof(cfg->role), "%s", roles[role]);
}

static const char *const worker_keys[] = {"count", "busy_poll", "idle_sleep_max_us", "burst", NULL};

static void parse_workers(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	struct obj w;

	get_object(c, top, "workers", worker_keys, &w);
	get_uint(c, &w, "count", 1, SLNF_MAX_WORKERS, 1, &cfg->workers.count);
	get_bool(c, &w, "busy_poll", false, &cfg->workers.busy_poll);
	get_uint(c, &w, "idle_sleep_max_us", 0, 100000, 500, &cfg->workers.idle_sleep_max_us);
	get_uint(c, &w, "burst", 1, SLNF_BURST_MAX, SLNF_BURST_MAX, &cfg->workers.burst);
}

static const char *const eal_keys[] = {"hugepages", "memory_mb", "file_prefix",
				       "lcores",    "log_level", NULL};
static const char *const log_levels[] = {"emergency", "alert", "critical", "error", "warning",
					 "notice",    "info",  "debug",	   NULL};

/* After parse_workers: the default lcore list has one lcore per worker. */
static void parse_eal(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	char def[64], field[PATH_LEN];
	struct obj e;
	int level;

	get_object(c, top, "eal", eal_keys, &e);
	get_bool(c, &e, "hugepages", false, &cfg->eal.hugepages);
	get_uint(c, &e, "memory_mb", 64, 65536, 256, &cfg->eal.memory_mb);

	pathf(def, sizeof(def), "slnf-%s", cfg->name);
	get_text(c, &e, "file_prefix", def, &prefix_rule, cfg->eal.file_prefix,
		 sizeof(cfg->eal.file_prefix));

	if (cfg->workers.count == 1)
		pathf(def, sizeof(def), "0");
	else
		pathf(def, sizeof(def), "0-%u", cfg->workers.count - 1);
	path_key(field, e.path, "lcores");
	if (get_text(c, &e, "lcores", def, &lcores_rule, cfg->eal.lcores, sizeof(cfg->eal.lcores)))
		check_lcores(c, field, cfg->eal.lcores, cfg->workers.count);

	level = get_choice(c, &e, "log_level", "log level", log_levels, 3);
	snprintf(cfg->eal.log_level, sizeof(cfg->eal.log_level), "%s", log_levels[level]);
}

static const char *const control_keys[] = {"socket", NULL};

static void parse_control(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	char def[PATH_LEN];
	struct obj o;

	get_object(c, top, "control", control_keys, &o);
	pathf(def, sizeof(def), "/run/slnf/%s.sock", cfg->name);
	get_text(c, &o, "socket", def, &socket_rule, cfg->control_socket,
		 sizeof(cfg->control_socket));
}

static const char *const store_keys[] = {"backend", "capacity", "cache_entries", "shm", "redis",
					 NULL};
static const char *const store_shm_keys[] = {"name", NULL};
static const char *const store_redis_keys[] = {"host",	     "port",	      "unix",
					       "nodes",	     "timeout_ms",    "wait_replicas",
					       "wait_timeout_ms", NULL};
/* The store backends this build can open: the one list to extend when a
 * backend is added. */
static const char *const store_backends[] = {"local", "shm", "redis", "redis-cluster", NULL};

static void check_store_backend(struct ctx *c, const char *field, const char *b)
{
	char list[128];

	if (word_index(store_backends, b) >= 0)
		return;
	word_list(list, sizeof(list), store_backends);
	fail(c, field, "unknown store backend '%s' (expected one of %s)", b, list);
}

/* "host:port" with a port of 1..65535. */
static void check_node(struct ctx *c, const char *field, const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;

	if (!colon || colon == s || *end || port < 1 || port > 65535)
		fail(c, field, "'%s' is not host:port", s);
}

static void parse_store_redis(struct ctx *c, const struct obj *store, struct slnf_config *cfg)
{
	char path[PATH_LEN], field[PATH_LEN];
	struct obj o;
	json_t *nodes;
	unsigned port;

	get_object(c, store, "redis", store_redis_keys, &o);
	get_text(c, &o, "host", "127.0.0.1", &host_rule, cfg->store.redis.host,
		 sizeof(cfg->store.redis.host));
	get_uint(c, &o, "port", 1, 65535, 6379, &port);
	cfg->store.redis.port = (uint16_t)port;
	get_text(c, &o, "unix", NULL, &socket_rule, cfg->store.redis.unix_path,
		 sizeof(cfg->store.redis.unix_path));
	get_uint(c, &o, "timeout_ms", 1, 60000, 200, &cfg->store.redis.timeout_ms);
	get_uint(c, &o, "wait_replicas", 0, 16, 0, &cfg->store.redis.wait_replicas);
	get_uint(c, &o, "wait_timeout_ms", 1, 60000, 100, &cfg->store.redis.wait_timeout_ms);
	size_t n = get_array(c, &o, "nodes", 0, SLNF_STORE_MAX_NODES, &nodes, path);
	for (size_t i = 0; i < n && !c->rc; i++) {
		json_t *v = json_array_get(nodes, i);
		pathf(field, sizeof(field), "%s[%zu]", path, i);
		if (!expect(c, v, field, JSON_STRING))
			break;
		if (strlen(json_string_value(v)) >= sizeof(cfg->store.redis.nodes[0])) {
			fail(c, field, "longer than %zu characters", sizeof(cfg->store.redis.nodes[0]) - 1);
			break;
		}
		check_node(c, field, json_string_value(v));
		snprintf(cfg->store.redis.nodes[i], sizeof(cfg->store.redis.nodes[i]), "%s",
			 json_string_value(v));
		cfg->store.redis.n_nodes = (unsigned)i + 1;
	}
	if (!c->rc && !strcmp(cfg->store.backend, "redis-cluster") && !cfg->store.redis.n_nodes) {
		pathf(field, sizeof(field), "%s.nodes", o.path);
		fail(c, field, "redis-cluster needs at least one seed node (\"host:port\")");
	}
}

static void parse_store(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	char field[PATH_LEN];
	struct obj o, shm;

	get_object(c, top, "store", store_keys, &o);
	path_key(field, o.path, "backend");
	if (get_text(c, &o, "backend", "shm", &name_rule, cfg->store.backend,
		     sizeof(cfg->store.backend)))
		check_store_backend(c, field, cfg->store.backend);
	get_uint(c, &o, "capacity", 16, 1u << 30, 65536, &cfg->store.capacity);
	get_uint(c, &o, "cache_entries", 0, 1u << 20, 4096, &cfg->store.cache_entries);
	get_object(c, &o, "shm", store_shm_keys, &shm);
	get_text(c, &shm, "name", "slnf-store", &prefix_rule, cfg->store.shm_name,
		 sizeof(cfg->store.shm_name));
	parse_store_redis(c, &o, cfg);
}

/* The store section alone, for other programs whose config holds one
 * (slnf-orch): top is the object holding "store". */
int slnf_config_parse_store(json_t *top, const char *file, struct slnf_store_config *out,
			    struct slnf_error *err)
{
	struct ctx c = {.file = file, .err = err};
	struct obj o = {.json = top, .path = ""};
	struct slnf_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return slnf_errorf(err, ENOMEM, file, "store", "out of memory");
	parse_store(&c, &o, cfg);
	if (!c.rc)
		*out = cfg->store;
	free(cfg);
	return c.rc;
}

static const char *const port_keys[] = {"name", "type", "iface",   "rx_pcap", "tx_pcap", "pci",
					"mac",	"ipv4", "rx_desc", "tx_desc", NULL};
static const char *const port_types[] = {[SLNF_PORT_AF_PACKET] = "af_packet",
					 [SLNF_PORT_AF_XDP] = "af_xdp",
					 [SLNF_PORT_TAP] = "tap",
					 [SLNF_PORT_PCAP] = "pcap",
					 [SLNF_PORT_RING] = "ring",
					 [SLNF_PORT_NULL] = "null",
					 [SLNF_PORT_PCI] = "pci",
					 NULL};

/* The type-specific fields, and which port types read them. */
static const struct {
	const char *key;
	unsigned types; /* bit per enum slnf_port_type */
} port_type_fields[] = {
    {"iface", 1u << SLNF_PORT_AF_PACKET | 1u << SLNF_PORT_AF_XDP | 1u << SLNF_PORT_TAP},
    {"rx_pcap", 1u << SLNF_PORT_PCAP},
    {"tx_pcap", 1u << SLNF_PORT_PCAP},
    {"pci", 1u << SLNF_PORT_PCI},
};

/* The port that has addr among the addresses before ports[i].addrs[k]. */
static int addr_owner(const struct slnf_config *cfg, uint32_t addr, unsigned i, unsigned k)
{
	for (unsigned j = 0; j <= i; j++)
		for (unsigned m = 0; m < (j == i ? k : cfg->ports[j].n_addrs); m++)
			if (cfg->ports[j].addrs[m].addr == addr)
				return (int)j;
	return -1;
}

static void parse_port_addrs(struct ctx *c, const struct obj *o, struct slnf_config *cfg,
			     unsigned i)
{
	struct slnf_port_config *p = &cfg->ports[i];
	char path[PATH_LEN], field[PATH_LEN];
	json_t *a;
	int owner;

	p->n_addrs = get_array(c, o, "ipv4", 0, SLNF_MAX_ADDRS, &a, path);
	for (unsigned k = 0; k < p->n_addrs && !c->rc; k++) {
		pathf(field, sizeof(field), "%s[%u]", path, k);
		check_host_prefix(c, json_array_get(a, k), field, &p->addrs[k]);
		owner = c->rc ? -1 : addr_owner(cfg, p->addrs[k].addr, i, k);
		if (owner >= 0)
			fail(c, field, "address %s is also assigned to ports[%d] ('%s')",
			     json_string_value(json_array_get(a, k)), owner,
			     cfg->ports[owner].name);
	}
}

static void parse_port(struct ctx *c, const struct obj *o, struct slnf_config *cfg, unsigned i)
{
	struct slnf_port_config *p = &cfg->ports[i];
	char field[PATH_LEN];
	uint8_t mac[6];
	unsigned desc;
	json_t *v;

	require(c, o, "name");
	require(c, o, "type");
	get_text(c, o, "name", NULL, &name_rule, p->name, sizeof(p->name));
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(cfg->ports[j].name, p->name))
			fail_at(c, o->path, "name", "duplicate port name '%s' (also ports[%u])",
				p->name, j);
	p->type = get_choice(c, o, "type", "port type", port_types, SLNF_PORT_NULL);
	if (c->rc)
		return;

	for (unsigned f = 0; f < sizeof(port_type_fields) / sizeof(port_type_fields[0]); f++)
		if (has(o, port_type_fields[f].key) && !(port_type_fields[f].types & 1u << p->type))
			fail_at(c, o->path, port_type_fields[f].key, "not used by port type '%s'",
				port_types[p->type]);

	switch (p->type) {
	case SLNF_PORT_AF_PACKET:
	case SLNF_PORT_AF_XDP:
		require(c, o, "iface");
		break;
	case SLNF_PORT_PCAP:
		if (!has(o, "rx_pcap") && !has(o, "tx_pcap"))
			fail(c, o->path, "a pcap port needs rx_pcap, tx_pcap or both");
		break;
	case SLNF_PORT_PCI:
		require(c, o, "pci");
		break;
	default:
		break;
	}
	get_text(c, o, "iface", p->type == SLNF_PORT_TAP ? p->name : NULL, &ifname_rule, p->iface,
		 sizeof(p->iface));
	get_text(c, o, "rx_pcap", NULL, &file_rule, p->rx_pcap, sizeof(p->rx_pcap));
	get_text(c, o, "tx_pcap", NULL, &file_rule, p->tx_pcap, sizeof(p->tx_pcap));
	if (get_text(c, o, "pci", NULL, &pci_rule, p->pci, sizeof(p->pci)))
		check_pci(c, o->path, p->pci);
	v = member(o, "mac", field);
	if (v && check_mac(c, v, field, mac))
		format_mac(p->mac, mac);
	parse_port_addrs(c, o, cfg, i);
	get_uint(c, o, "rx_desc", 64, 4096, 1024, &desc);
	p->rx_desc = (uint16_t)desc;
	get_uint(c, o, "tx_desc", 64, 4096, 1024, &desc);
	p->tx_desc = (uint16_t)desc;
}

static void parse_ports(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	require(c, top, "ports");
	get_objects(c, top, "ports", 1, SLNF_MAX_PORTS, port_keys, parse_port, cfg, &cfg->n_ports);
}

static const char *const neigh_keys[] = {"reachable_s", "max_pending", "static", NULL};
static const char *const static_keys[] = {"port", "ip", "mac", NULL};

static void parse_static_neigh(struct ctx *c, const struct obj *o, struct slnf_config *cfg,
			       unsigned i)
{
	struct slnf_static_neigh *s = &cfg->neigh.statics[i];
	char field[PATH_LEN];
	json_t *v;
	int port;

	require(c, o, "port");
	require(c, o, "ip");
	require(c, o, "mac");
	if (c->rc)
		return;
	v = member(o, "port", field);
	port = check_port_ref(c, v, field, cfg);
	s->port = port < 0 ? 0 : (uint16_t)port;
	v = member(o, "ip", field);
	check_ipv4(c, v, field, &s->ip);
	for (unsigned j = 0; j < i && !c->rc; j++)
		if (cfg->neigh.statics[j].port == s->port && cfg->neigh.statics[j].ip == s->ip)
			fail(c, field, "%s on port '%s' is also in neighbours.static[%u]",
			     json_string_value(v), cfg->ports[s->port].name, j);
	v = member(o, "mac", field);
	check_mac(c, v, field, s->mac);
}

/* After parse_ports: static entries name ports. */
static void parse_neighbours(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	struct obj n;

	get_object(c, top, "neighbours", neigh_keys, &n);
	get_uint(c, &n, "reachable_s", 1, 86400, 30, &cfg->neigh.reachable_s);
	get_uint(c, &n, "max_pending", 0, 256, 16, &cfg->neigh.max_pending);
	get_objects(c, &n, "static", 0, SLNF_MAX_STATIC_NEIGH, static_keys, parse_static_neigh, cfg,
		    &cfg->neigh.n_statics);
}

static const char *const tenant_keys[] = {"name", "id", "match", "inside", "chain", NULL};
static const char *const match_keys[] = {"ports", "vlans", NULL};

static void parse_match(struct ctx *c, const struct obj *o, struct slnf_config *cfg,
			struct slnf_tenant_config *t)
{
	char path[PATH_LEN], field[PATH_LEN];
	struct obj m;
	json_t *a;
	size_t n;

	get_object(c, o, "match", match_keys, &m);
	require(c, &m, "ports");
	n = get_array(c, &m, "ports", 1, SLNF_MAX_PORTS, &a, path);
	for (unsigned k = 0; k < n && !c->rc; k++) {
		int port;

		pathf(field, sizeof(field), "%s[%u]", path, k);
		port = check_port_ref(c, json_array_get(a, k), field, cfg);
		for (unsigned j = 0; j < k && port >= 0; j++)
			if (t->ports[j] == port)
				fail(c, field, "port '%s' is listed twice", cfg->ports[port].name);
		t->ports[k] = port < 0 ? 0 : (uint16_t)port;
		t->n_ports = k + 1;
	}

	n = get_array(c, &m, "vlans", 0, SLNF_MAX_VLANS, &a, path);
	for (unsigned k = 0; k < n && !c->rc; k++) {
		unsigned vlan = 0;

		pathf(field, sizeof(field), "%s[%u]", path, k);
		check_uint(c, json_array_get(a, k), field, 1, 4094, &vlan);
		for (unsigned j = 0; j < k; j++)
			if (t->vlans[j] == vlan)
				fail(c, field, "vlan %u is listed twice", vlan);
		t->vlans[k] = (uint16_t)vlan;
		t->n_vlans = k + 1;
	}
}

/* A steering node (role steer) forwards to instances and runs no chain;
 * an NF instance needs one. */
static void parse_chain(struct ctx *c, const struct obj *o, const struct slnf_config *cfg,
			struct slnf_tenant_config *t)
{
	char path[PATH_LEN];
	struct obj e;
	json_t *a;
	size_t n;

	if (slnf_config_is_steer(cfg)) {
		if (json_object_get(o->json, "chain"))
			fail_at(c, o->path, "chain",
				"a steering node (role steer) runs no chain: its instances do");
		return;
	}
	require(c, o, "chain");
	n = get_array(c, o, "chain", 1, SLNF_MAX_CHAIN, &a, path);
	for (unsigned k = 0; k < n && get_element(c, a, path, k, NULL, &e); k++) {
		struct slnf_chain_entry *ce = &t->chain[k];

		require(c, &e, "nf");
		get_text(c, &e, "nf", NULL, &name_rule, ce->nf, sizeof(ce->nf));
		ce->params = e.json;
		pathf(ce->field, sizeof(ce->field), "%s", e.path);
		t->n_chain = k + 1;
	}
}

static bool has_u16(const uint16_t *list, unsigned n, uint16_t x)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == x)
			return true;
	return false;
}

/* Two tenants may not claim the same (port, vlan), nor both the untagged
 * traffic of a port. t is checked against every tenant before it. */
static void check_claims(struct ctx *c, const struct obj *o, const struct slnf_config *cfg,
			 unsigned ti)
{
	const struct slnf_tenant_config *t = &cfg->tenants[ti];
	char field[PATH_LEN];

	for (unsigned ui = 0; ui < ti && !c->rc; ui++) {
		const struct slnf_tenant_config *u = &cfg->tenants[ui];

		for (unsigned k = 0; k < t->n_ports && !c->rc; k++) {
			const char *port = cfg->ports[t->ports[k]].name;

			if (!has_u16(u->ports, u->n_ports, t->ports[k]))
				continue;
			if (!t->n_vlans && !u->n_vlans) {
				pathf(field, sizeof(field), "%s.match.ports[%u]", o->path, k);
				fail(c, field,
				     "untagged traffic of port '%s' is claimed by both tenants "
				     "'%s' and '%s'",
				     port, u->name, t->name);
			}
			for (unsigned v = 0; v < t->n_vlans && !c->rc; v++) {
				if (!has_u16(u->vlans, u->n_vlans, t->vlans[v]))
					continue;
				pathf(field, sizeof(field), "%s.match.vlans[%u]", o->path, v);
				fail(c, field,
				     "port '%s' vlan %u is claimed by both tenants '%s' and '%s'",
				     port, t->vlans[v], u->name, t->name);
			}
		}
	}
}

/* "inside": a subset of the tenant's match.ports, each named once. */
static void parse_inside(struct ctx *c, const struct obj *o, struct slnf_config *cfg,
			 struct slnf_tenant_config *t)
{
	char path[PATH_LEN], field[PATH_LEN];
	json_t *a;
	size_t n = get_array(c, o, "inside", 0, SLNF_MAX_PORTS, &a, path);

	for (unsigned k = 0; k < n && !c->rc; k++) {
		int port;

		pathf(field, sizeof(field), "%s[%u]", path, k);
		port = check_port_ref(c, json_array_get(a, k), field, cfg);
		if (port < 0)
			break;
		if (!has_u16(t->ports, t->n_ports, (uint16_t)port))
			fail(c, field, "port '%s' is not one of the tenant's match.ports",
			     cfg->ports[port].name);
		else if (t->inside[port])
			fail(c, field, "port '%s' is listed twice", cfg->ports[port].name);
		t->inside[port] = true;
		t->n_inside++;
	}
}

static void parse_tenant(struct ctx *c, const struct obj *o, struct slnf_config *cfg, unsigned i)
{
	struct slnf_tenant_config *t = &cfg->tenants[i];

	require(c, o, "name");
	require(c, o, "id");
	require(c, o, "match");
	get_text(c, o, "name", NULL, &name_rule, t->name, sizeof(t->name));
	get_uint(c, o, "id", 1, UINT32_MAX, 0, &t->id);
	for (unsigned j = 0; j < i && !c->rc; j++) {
		if (!strcmp(cfg->tenants[j].name, t->name))
			fail_at(c, o->path, "name", "duplicate tenant name '%s' (also tenants[%u])",
				t->name, j);
		if (cfg->tenants[j].id == t->id)
			fail_at(c, o->path, "id", "tenant id %u is also used by tenants[%u] ('%s')",
				t->id, j, cfg->tenants[j].name);
	}
	parse_match(c, o, cfg, t);
	parse_inside(c, o, cfg, t);
	parse_chain(c, o, cfg, t);
	check_claims(c, o, cfg, i);
}

/* After parse_ports: tenants are reached on ports. */
static void parse_tenants(struct ctx *c, const struct obj *top, struct slnf_config *cfg)
{
	require(c, top, "tenants");
	get_objects(c, top, "tenants", 1, SLNF_MAX_TENANTS, tenant_keys, parse_tenant, cfg,
		    &cfg->n_tenants);
}

/* The order matters where defaults and references depend on earlier
 * sections: name before the defaults built from it, workers before eal,
 * ports before neighbours and tenants. */
static int parse_root(struct ctx *c, struct slnf_config *cfg)
{
	struct obj top = {.json = cfg->root, .path = ""};

	if (!json_is_object(cfg->root)) {
		fail(c, NULL, "the top level must be a JSON object");
		return c->rc;
	}
	check_keys(c, &top, top_keys);
	require(c, &top, "name");
	get_text(c, &top, "name", NULL, &name_rule, cfg->name, sizeof(cfg->name));
	parse_role(c, &top, cfg);
	parse_workers(c, &top, cfg);
	parse_eal(c, &top, cfg);
	get_uint(c, &top, "mbufs", 512, 1048575, 8191, &cfg->mbufs);
	parse_control(c, &top, cfg);
	parse_store(c, &top, cfg);
	parse_ports(c, &top, cfg);
	parse_neighbours(c, &top, cfg);
	parse_tenants(c, &top, cfg);
	return c->rc;
}

static int parse_buffer(const char *text, size_t len, const char *file, struct slnf_config *cfg,
			struct slnf_error *err)
{
	struct ctx c = {.file = file, .err = err};
	json_error_t jerr;
	char where[64];

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", file ? file : "");
	if (!text)
		return slnf_errorf(err, EINVAL, file, NULL, "no configuration text");
	cfg->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!cfg->root) {
		pathf(where, sizeof(where), "line %d, column %d", jerr.line, jerr.column);
		return slnf_errorf(err, EINVAL, file, where, "invalid JSON: %s", jerr.text);
	}
	return parse_root(&c, cfg);
}

int slnf_config_parse(const char *text, const char *file, struct slnf_config *cfg,
		      struct slnf_error *err)
{
	return parse_buffer(text, text ? strlen(text) : 0, file, cfg, err);
}

/* The whole file in a malloc'd buffer; NULL with *code set on failure. */
static char *read_file(const char *path, size_t *len, int *code)
{
	size_t cap = 4096;
	char *buf = NULL, *bigger;
	FILE *f = fopen(path, "r");

	*len = 0;
	if (!f) {
		*code = errno;
		return NULL;
	}
	for (;;) {
		if (*len == cap || !buf) {
			cap = buf ? cap * 2 : cap;
			bigger = cap > CONFIG_FILE_MAX ? NULL : realloc(buf, cap);
			if (!bigger) {
				*code = cap > CONFIG_FILE_MAX ? EFBIG : ENOMEM;
				goto fail;
			}
			buf = bigger;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		*code = errno ? errno : EIO;
		goto fail;
	}
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

int slnf_config_load(const char *path, struct slnf_config *cfg, struct slnf_error *err)
{
	size_t len;
	int rc, code = 0;
	char *text;

	memset(cfg, 0, sizeof(*cfg));
	text = read_file(path, &len, &code);
	if (!text)
		return slnf_errorf(err, code, path, NULL, "cannot read: %s", strerror(code));
	rc = parse_buffer(text, len, path, cfg, err);
	free(text);
	return rc;
}

void slnf_config_free(struct slnf_config *cfg)
{
	if (!cfg)
		return;
	json_decref(cfg->root);
	cfg->root = NULL;
	/* the chain params pointed into root */
	cfg->n_tenants = 0;
}

int slnf_config_port_index(const struct slnf_config *cfg, const char *name)
{
	if (!name)
		return -1;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (!strcmp(cfg->ports[i].name, name))
			return (int)i;
	return -1;
}

/* ---- address syntax ---- */

/* A decimal number up to max: digits only, no sign, no leading zero.
 * Returns the end, or NULL. */
static const char *parse_dec(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max)
			return NULL;
	}
	*out = v;
	return p;
}

/* a.b.c.d at s; returns the end, or NULL. */
static const char *parse_quad(const char *s, uint32_t *out)
{
	uint32_t addr = 0;
	unsigned part;

	for (int i = 0; i < 4; i++) {
		if (i && *s++ != '.')
			return NULL;
		s = parse_dec(s, 255, &part);
		if (!s)
			return NULL;
		addr = addr << 8 | part;
	}
	*out = addr;
	return s;
}

int slnf_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t addr;

	if (!s || !(s = parse_quad(s, &addr)) || *s)
		return -EINVAL;
	*out = addr;
	return 0;
}

int slnf_parse_prefix(const char *s, struct slnf_ipv4_prefix *out)
{
	uint32_t addr;
	unsigned len = 32;

	if (!s || !(s = parse_quad(s, &addr)))
		return -EINVAL;
	if (*s == '/' && !(s = parse_dec(s + 1, 32, &len)))
		return -EINVAL;
	if (*s)
		return -EINVAL;
	out->addr = addr;
	out->len = (uint8_t)len;
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int slnf_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, 6);
	return 0;
}
