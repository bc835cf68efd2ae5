/*
 * log.h: one logging module. Messages go to stderr as "keepon[tag] level: msg".
 * kp_log_warn appends strerror(errno); kp_log_warnx does not (OpenSMTPD style).
 * The level is set once at startup by the CLI (the only process-wide setting).
 */
#ifndef KP_BASE_LOG_H
#define KP_BASE_LOG_H

typedef enum kp_log_level { KP_LOG_ERROR = 0, KP_LOG_WARN, KP_LOG_INFO, KP_LOG_DEBUG, KP_LOG_TRACE } kp_log_level_t;

void kp_log_set_level(kp_log_level_t lvl);
kp_log_level_t kp_log_get_level(void);
void kp_log(kp_log_level_t lvl, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kp_log_warn(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kp_log_warnx(tag, ...) kp_log(KP_LOG_WARN, tag, __VA_ARGS__)
#define kp_log_info(tag, ...) kp_log(KP_LOG_INFO, tag, __VA_ARGS__)
#define kp_log_debug(tag, ...) kp_log(KP_LOG_DEBUG, tag, __VA_ARGS__)
#define kp_log_error(tag, ...) kp_log(KP_LOG_ERROR, tag, __VA_ARGS__)

#endif
