/*
 * log.h - the one logging API of edsim.
 *
 * Every diagnostic goes through log_msg() with a level; nothing else in the
 * server writes to stderr. Messages below the configured level are dropped.
 */
#ifndef EDSIM_LOG_H
#define EDSIM_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)

#endif
