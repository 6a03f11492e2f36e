/*
 * redis_conn.c - one pipelined, non-blocking connection to a Redis server.
 *
 * hiredis 0.14 does two jobs here: it opens the socket (redisConnectNonBlock
 * or redisConnectUnixNonBlock, which also sets TCP_NODELAY) and it parses
 * replies (the context's redisReader, fed with redisReaderFeed). Commands
 * are encoded in RESP into our own output buffer and written with send()
 * and MSG_NOSIGNAL, so many commands go out in one system call and a dead
 * server surfaces as an error instead of SIGPIPE; reads are recv() with
 * MSG_DONTWAIT. No call blocks except the deliberately synchronous ones
 * (connect, SCRIPT LOAD, slnf_redis_conn_command, slnf_redis_conn_wait),
 * and each of those waits in poll() with a deadline.
 *
 * Every appended command pushes its caller's tag on a ring; every reply
 * pops one, so replies and tags stay paired as long as the server answers in
 * order, which it does on one connection. When the connection fails, the
 * tags still on the ring are handed back one by one as lost, with the
 * failure's errno, and only then is the ring empty and a reconnect allowed.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "redis_conn.h"

#define CONN_DEFAULT_PORT 6379
#define CONN_DEFAULT_TIMEOUT_MS 1000
#define CONN_DEFAULT_BACKOFF_MIN_MS 10
#define CONN_DEFAULT_BACKOFF_MAX_MS 1000
#define CONN_RECV_BUF 16384
#define NS_PER_MS 1000000ull

uint64_t slnf_redis_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int slnf_redis_conn_init(struct slnf_redis_conn *c, const struct slnf_redis_conn_cfg *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	struct slnf_redis_conn_cfg *k = &c->cfg;
	if (k->n_scripts > SLNF_REDIS_CONN_SCRIPTS)
		return -EINVAL;
	if (!k->unix_path[0]) {
		if (!k->host[0])
			snprintf(k->host, sizeof(k->host), "127.0.0.1");
		if (!k->port)
			k->port = CONN_DEFAULT_PORT;
		snprintf(c->name, sizeof(c->name), "%s:%u", k->host, k->port);
	} else {
		snprintf(c->name, sizeof(c->name), "%s", k->unix_path);
	}
	if (!k->timeout_ms)
		k->timeout_ms = CONN_DEFAULT_TIMEOUT_MS;
	if (!k->backoff_min_ms)
		k->backoff_min_ms = CONN_DEFAULT_BACKOFF_MIN_MS;
	if (!k->backoff_max_ms)
		k->backoff_max_ms = CONN_DEFAULT_BACKOFF_MAX_MS;
	if (k->backoff_max_ms < k->backoff_min_ms)
		k->backoff_max_ms = k->backoff_min_ms;
	c->backoff_ms = k->backoff_min_ms;
	return 0;
}

static void conn_verr(struct slnf_redis_conn *c, const char *fmt, va_list ap)
{
	int n = snprintf(c->err, sizeof(c->err), "redis %s: ", c->name);
	if (n < 0 || (size_t)n >= sizeof(c->err))
		return;
	vsnprintf(c->err + n, sizeof(c->err) - (size_t)n, fmt, ap);
}

static void __attribute__((format(printf, 2, 3))) conn_err(struct slnf_redis_conn *c,
							    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_verr(c, fmt, ap);
	va_end(ap);
}

/* Close the socket and start a backoff delay; owed replies become lost
 * with err. */
static void conn_close(struct slnf_redis_conn *c, int err)
{
	if (c->ctx) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	c->lost_err = err;
	c->olen = c->ooff = 0;
	c->retry_at_ns = slnf_redis_now_ns() + (uint64_t)c->backoff_ms * NS_PER_MS;
	uint64_t next = (uint64_t)c->backoff_ms * 2;
	c->backoff_ms = next > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : (uint32_t)next;
}

/* An established connection failed. */
static int conn_fail(struct slnf_redis_conn *c, int err)
{
	if (c->ctx)
		c->drops++;
	conn_close(c, err);
	return err;
}

void slnf_redis_conn_drop(struct slnf_redis_conn *c, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_verr(c, fmt, ap);
	va_end(ap);
	conn_fail(c, err < 0 ? err : -EIO);
}

void slnf_redis_conn_fini(struct slnf_redis_conn *c)
{
	if (c->ctx)
		redisFree(c->ctx);
	c->ctx = NULL;
	free(c->obuf);
	free(c->tags);
	c->obuf = NULL;
	c->tags = NULL;
	c->tag_n = c->tag_cap = 0;
}

bool slnf_redis_conn_is_up(const struct slnf_redis_conn *c)
{
	return c->ctx != NULL;
}

unsigned slnf_redis_conn_owed(const struct slnf_redis_conn *c)
{
	return c->tag_n;
}

const char *slnf_redis_conn_sha(const struct slnf_redis_conn *c, unsigned i)
{
	return c->ctx && i < c->cfg.n_scripts ? c->sha[i] : NULL;
}

const char *slnf_redis_conn_error(const struct slnf_redis_conn *c)
{
	return c->err[0] ? c->err : "no error";
}

/* ---- the tag ring ---- */

static int tag_push(struct slnf_redis_conn *c, struct slnf_redis_tag tag)
{
	if (c->tag_n == c->tag_cap) {
		unsigned cap = c->tag_cap ? c->tag_cap * 2 : 256;
		struct slnf_redis_tag *t = malloc(cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		for (unsigned i = 0; i < c->tag_n; i++)
			t[i] = c->tags[(c->tag_head + i) % c->tag_cap];
		free(c->tags);
		c->tags = t;
		c->tag_cap = cap;
		c->tag_head = 0;
	}
	c->tags[(c->tag_head + c->tag_n) % c->tag_cap] = tag;
	c->tag_n++;
	return 0;
}

static struct slnf_redis_tag tag_pop(struct slnf_redis_conn *c)
{
	struct slnf_redis_tag t = c->tags[c->tag_head];
	c->tag_head = (c->tag_head + 1) % c->tag_cap;
	c->tag_n--;
	return t;
}

/* ---- writing ---- */

static int obuf_reserve(struct slnf_redis_conn *c, size_t more)
{
	if (c->ooff && c->ooff == c->olen)
		c->ooff = c->olen = 0;
	if (c->olen + more <= c->ocap)
		return 0;
	if (c->ooff) { /* slide the unwritten rest to the front first */
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
		if (c->olen + more <= c->ocap)
			return 0;
	}
	size_t cap = c->ocap ? c->ocap : 4096;
	while (cap < c->olen + more)
		cap *= 2;
	char *b = realloc(c->obuf, cap);
	if (!b)
		return -ENOMEM;
	c->obuf = b;
	c->ocap = cap;
	return 0;
}

static size_t resp_header_len(char type, size_t n)
{
	char tmp[32];
	return (size_t)snprintf(tmp, sizeof(tmp), "%c%zu\r\n", type, n);
}

int slnf_redis_conn_append(struct slnf_redis_conn *c, int argc, const char **argv,
			   const size_t *argvlen, struct slnf_redis_tag tag)
{
	if (!c->ctx)
		return -ENOTCONN;
	size_t need = resp_header_len('*', (size_t)argc);
	for (int i = 0; i < argc; i++)
		need += resp_header_len('$', argvlen[i]) + argvlen[i] + 2;
	if (obuf_reserve(c, need + 1) < 0 || tag_push(c, tag) < 0)
		return -ENOMEM;
	char *p = c->obuf + c->olen;
	p += sprintf(p, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		p += sprintf(p, "$%zu\r\n", argvlen[i]);
		if (argvlen[i])
			memcpy(p, argv[i], argvlen[i]);
		p += argvlen[i];
		*p++ = '\r';
		*p++ = '\n';
	}
	c->olen = (size_t)(p - c->obuf);
	return 0;
}

int slnf_redis_conn_flush(struct slnf_redis_conn *c)
{
	if (!c->ctx)
		return c->tag_n ? c->lost_err : -ENOTCONN;
	while (c->ooff < c->olen) {
		ssize_t n = send(c->ctx->fd, c->obuf + c->ooff, c->olen - c->ooff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			if (errno == EINTR)
				continue;
			conn_err(c, "write: %s", strerror(errno));
			return conn_fail(c, -EIO);
		}
		c->ooff += (size_t)n;
	}
	c->ooff = c->olen = 0;
	return 0;
}

/* ---- reading ---- */

int slnf_redis_conn_read(struct slnf_redis_conn *c, struct redisReply **reply,
			 struct slnf_redis_tag *tag)
{
	*reply = NULL;
	for (;;) {
		if (!c->ctx) {
			if (!c->tag_n)
				return 0;
			*tag = tag_pop(c);
			return c->lost_err;
		}
		void *r = NULL;
		if (redisReaderGetReply(c->ctx->reader, &r) != REDIS_OK) {
			conn_err(c, "bad reply: %s", c->ctx->reader->errstr);
			conn_fail(c, -EIO);
			continue;
		}
		if (r) {
			if (!c->tag_n) {
				freeReplyObject(r);
				conn_err(c, "a reply nobody asked for");
				conn_fail(c, -EIO);
				continue;
			}
			*tag = tag_pop(c);
			*reply = r;
			return 1;
		}
		if (!c->tag_n)
			return 0;
		char buf[CONN_RECV_BUF];
		ssize_t n = recv(c->ctx->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			if (redisReaderFeed(c->ctx->reader, buf, (size_t)n) != REDIS_OK) {
				conn_err(c, "reader: out of memory");
				conn_fail(c, -EIO);
			}
			continue;
		}
		if (n == 0) {
			conn_err(c, "server closed the connection");
			conn_fail(c, -EIO);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EINTR)
			continue;
		conn_err(c, "read: %s", strerror(errno));
		conn_fail(c, -EIO);
	}
}

static int poll_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = slnf_redis_now_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		uint64_t left_ms = (deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS;
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, left_ms > 60000 ? 60000 : (int)left_ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int slnf_redis_conn_wait(struct slnf_redis_conn *c, uint64_t deadline_ns)
{
	if (!c->ctx)
		return -ENOTCONN;
	short ev = POLLIN;
	if (c->ooff < c->olen)
		ev |= POLLOUT;
	int rc = poll_fd(c->ctx->fd, ev, deadline_ns);
	return rc == -ETIMEDOUT ? rc : 0;
}

/* Send one command and wait for its reply until deadline_ns; nothing else
 * may be owed. */
static int conn_sync(struct slnf_redis_conn *c, struct redisReply **reply, int argc,
		     const char **argv, const size_t *argvlen, uint64_t deadline_ns)
{
	struct slnf_redis_tag tag = {0};
	int rc = slnf_redis_conn_append(c, argc, argv, argvlen, tag);
	if (rc < 0)
		return rc;
	for (;;) {
		rc = slnf_redis_conn_flush(c);
		if (rc >= 0)
			rc = slnf_redis_conn_read(c, reply, &tag);
		if (rc == 1)
			return 0;
		if (rc < 0) {
			/* Collect the lost tag so nothing stays owed. */
			struct redisReply *r;
			while (slnf_redis_conn_read(c, &r, &tag) != 0)
				;
			return rc;
		}
		if (slnf_redis_conn_wait(c, deadline_ns) == -ETIMEDOUT) {
			slnf_redis_conn_drop(c, -ETIMEDOUT, "no reply within %u ms",
					     c->cfg.timeout_ms);
			struct redisReply *r;
			while (slnf_redis_conn_read(c, &r, &tag) != 0)
				;
			return -ETIMEDOUT;
		}
	}
}

/* Open the socket; 0 or negative errno with c->err set. */
static int conn_open(struct slnf_redis_conn *c, uint64_t deadline_ns)
{
	redisContext *ctx = c->cfg.unix_path[0]
				    ? redisConnectUnixNonBlock(c->cfg.unix_path)
				    : redisConnectNonBlock(c->cfg.host, c->cfg.port);
	if (!ctx) {
		conn_err(c, "connect: out of memory");
		return -ENOMEM;
	}
	if (ctx->err) {
		conn_err(c, "connect: %s", ctx->errstr);
		redisFree(ctx);
		return -ECONNREFUSED;
	}
	int rc = poll_fd(ctx->fd, POLLOUT, deadline_ns);
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (rc == 0 && getsockopt(ctx->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (rc < 0 || soerr) {
		if (rc == -ETIMEDOUT)
			conn_err(c, "connect: no answer within %u ms", c->cfg.timeout_ms);
		else
			conn_err(c, "connect: %s", strerror(rc < 0 ? -rc : soerr));
		redisFree(ctx);
		return rc == -ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	}
	c->ctx = ctx;
	return 0;
}

static int conn_load_scripts(struct slnf_redis_conn *c, uint64_t deadline_ns)
{
	for (unsigned i = 0; i < c->cfg.n_scripts; i++) {
		const char *argv[3] = {"SCRIPT", "LOAD", c->cfg.scripts[i]};
		size_t argvlen[3] = {6, 4, strlen(c->cfg.scripts[i])};
		struct redisReply *r = NULL;
		int rc = conn_sync(c, &r, 3, argv, argvlen, deadline_ns);
		if (rc < 0)
			return rc;
		bool ok = r->type == REDIS_REPLY_STRING && r->len == SLNF_REDIS_SHA_LEN;
		if (ok)
			memcpy(c->sha[i], r->str, SLNF_REDIS_SHA_LEN + 1);
		else
			conn_err(c, "SCRIPT LOAD: %.100s",
				 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		if (!ok)
			return -EIO;
	}
	return 0;
}

int slnf_redis_conn_connect(struct slnf_redis_conn *c)
{
	if (c->ctx)
		return 0;
	if (c->tag_n)
		return -EBUSY; /* lost replies not collected yet */
	uint64_t now = slnf_redis_now_ns();
	if (now < c->retry_at_ns)
		return -ECONNREFUSED;
	uint64_t deadline = now + (uint64_t)c->cfg.timeout_ms * NS_PER_MS;
	int rc = conn_open(c, deadline);
	if (rc == 0)
		rc = conn_load_scripts(c, deadline);
	if (rc < 0) {
		conn_close(c, rc);
		return rc;
	}
	c->connects++;
	c->backoff_ms = c->cfg.backoff_min_ms;
	return 0;
}

int slnf_redis_conn_command(struct slnf_redis_conn *c, struct redisReply **reply, int argc,
			    const char **argv, const size_t *argvlen)
{
	*reply = NULL;
	if (c->tag_n)
		return -EBUSY;
	int rc = slnf_redis_conn_connect(c);
	if (rc < 0)
		return rc;
	uint64_t deadline = slnf_redis_now_ns() + (uint64_t)c->cfg.timeout_ms * NS_PER_MS;
	return conn_sync(c, reply, argc, argv, argvlen, deadline);
}
