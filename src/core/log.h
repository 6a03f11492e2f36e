/*
 * log.h - one-line log messages to stderr with a level and a component.
 * The data path never logs per packet: it counts. Logging is for setup,
 * state changes (a neighbour resolved, a port up) and errors.
 */
#ifndef SLNF_LOG_H
#define SLNF_LOG_H

enum slnf_log_level { SLNF_LOG_ERR = 0, SLNF_LOG_WARN, SLNF_LOG_INFO, SLNF_LOG_DEBUG };

void slnf_log_set_level(enum slnf_log_level l);
void slnf_log(enum slnf_log_level l, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define SLNF_ERR(c, ...) slnf_log(SLNF_LOG_ERR, c, __VA_ARGS__)
#define SLNF_WARN(c, ...) slnf_log(SLNF_LOG_WARN, c, __VA_ARGS__)
#define SLNF_INFO(c, ...) slnf_log(SLNF_LOG_INFO, c, __VA_ARGS__)
#define SLNF_DEBUG(c, ...) slnf_log(SLNF_LOG_DEBUG, c, __VA_ARGS__)

#endif
