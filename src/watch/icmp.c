/*
 * icmp.c: the icmp driver: IPv4 ICMP echo over one raw socket.
 *
 * Privileges: the raw socket is opened first (needs root or CAP_NET_RAW); then, unless told
 * --no-drop:
 *   root      -> setgroups, setgid, setuid to the unprivileged user (default "nobody"), and a
 *                check that root cannot be regained;
 *   any user  -> every capability dropped (effective, permitted, inheritable, ambient), so a
 *                binary given cap_net_raw by setcap keeps none once its socket is open; a
 *                check that CAP_NET_RAW is gone.
 * PR_SET_NO_NEW_PRIVS is set in every case (also --no-drop): nothing exec'd later can gain
 * privileges through setuid bits or file capabilities. The open socket keeps working.
 * Dumpable: the kernel marks a process that changed credentials non-dumpable, which keeps
 * other processes of the same (nobody) user from ptrace-ing it to steal the raw socket, and
 * makes /proc/self/task root-owned. Production keeps it so. Sanitizer builds only turn it back
 * on (PR_SET_DUMPABLE 1) after the drop, because LeakSanitizer reads /proc/self/task at exit
 * and otherwise aborts ("Can't open /proc/PID/task"): a test-build trade, never shipped.
 *
 * Packets: echo request id = per-process identifier (pid & 0xffff), seq = token & 0xffff,
 * 8-byte payload = token (big-endian) + "kpw1". A reply matches when it is an echo reply with
 * our id, a valid ICMP checksum, seq equal to the payload token's low 16 bits and the magic;
 * the engine then checks the token's slot and the replying address (so a reply from an
 * address we did not probe is never counted).
 *
 * Concurrency: send and receive never block each other: the socket is non-blocking, send()
 * returns KP_ERR_BUSY when the kernel queue is full, and poll() waits in ppoll() only until the
 * engine's next deadline and then drains the socket with recvmmsg batches. An ICMP_FILTER lets
 * only echo replies reach the socket.
 */
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/cursor.h"
#include "base/log.h"
#include "watch/watch.h"

#define TAG "watch-icmp"
#define RECV_BATCH 64
#define PKT_MAX 256
#define KP_ICMP_FILTER 1 /* linux/icmp.h: ICMP_FILTER on SOL_RAW */
static const uint8_t MAGIC[4] = {'k', 'p', 'w', '1'};

typedef struct icmp_drv {
  int fd;
  uint16_t id;
  uint8_t buf[RECV_BATCH][PKT_MAX];
  struct mmsghdr msgs[RECV_BATCH];
  struct iovec iov[RECV_BATCH];
} icmp_drv_t;

static uint16_t cksum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return (uint16_t)~s;
}

bool kp_wicmp_parse_reply(const uint8_t *pkt, size_t n, uint16_t id, kp_wreply_t *out) {
  kp_cur_t c = kp_cur_make(pkt, n);
  uint8_t vihl, proto;
  uint16_t total;
  uint32_t src;
  if (!kp_cur_u8(&c, &vihl) || (vihl >> 4) != 4 || (vihl & 15) < 5) return false;
  size_t ihl = (size_t)(vihl & 15) * 4;
  if (!kp_cur_skip(&c, 1) || !kp_cur_be16(&c, &total) || !kp_cur_skip(&c, 5) ||
      !kp_cur_u8(&c, &proto) || !kp_cur_skip(&c, 2) || !kp_cur_be32(&c, &src))
    return false;
  if (proto != 1 || total < ihl || total > n) return false;
  kp_cur_t ip = kp_cur_make(pkt, total);
  if (!kp_cur_skip(&ip, ihl)) return false;
  size_t icmp_len = kp_cur_left(&ip);
  const uint8_t *icmp = kp_cur_ptr(&ip);
  uint8_t type, code;
  uint16_t sum, rid, seq;
  uint32_t token;
  uint8_t magic[4];
  if (!kp_cur_u8(&ip, &type) || !kp_cur_u8(&ip, &code) || !kp_cur_be16(&ip, &sum) ||
      !kp_cur_be16(&ip, &rid) || !kp_cur_be16(&ip, &seq) || !kp_cur_be32(&ip, &token) ||
      !kp_cur_bytes(&ip, magic, 4))
    return false;
  if (type != 0 || code != 0 || rid != id || seq != (token & 0xFFFF) ||
      memcmp(magic, MAGIC, 4) != 0 || cksum(icmp, icmp_len) != 0)
    return false;
  out->token = token;
  out->addr = src;
  return true;
}

static kp_status_t icmp_send(void *ctx, uint32_t addr, uint32_t token) {
  icmp_drv_t *d = ctx;
  uint8_t pkt[16] = {8, 0, 0, 0, (uint8_t)(d->id >> 8), (uint8_t)d->id, (uint8_t)(token >> 8),
                     (uint8_t)token, (uint8_t)(token >> 24), (uint8_t)(token >> 16),
                     (uint8_t)(token >> 8), (uint8_t)token, 'k', 'p', 'w', '1'};
  uint16_t s = cksum(pkt, sizeof pkt);
  pkt[2] = (uint8_t)(s >> 8);
  pkt[3] = (uint8_t)s;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr);
  ssize_t r = sendto(d->fd, pkt, sizeof pkt, 0, (const struct sockaddr *)&sa, sizeof sa);
  if (r == (ssize_t)sizeof pkt) return KP_OK;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return KP_ERR_BUSY;
  return KP_ERR_IO; /* unreachable network etc.: the probe is lost, the engine times it out */
}

static size_t drain(icmp_drv_t *d, kp_wreply_t *out, size_t max) {
  size_t k = 0;
  while (k < max) {
    unsigned want = (unsigned)(max - k < RECV_BATCH ? max - k : RECV_BATCH);
    for (unsigned i = 0; i < want; i++) {
      d->iov[i].iov_base = d->buf[i];
      d->iov[i].iov_len = PKT_MAX;
      memset(&d->msgs[i].msg_hdr, 0, sizeof d->msgs[i].msg_hdr);
      d->msgs[i].msg_hdr.msg_iov = &d->iov[i];
      d->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(d->fd, d->msgs, want, MSG_DONTWAIT, NULL);
    if (got <= 0) break;
    for (int i = 0; i < got; i++)
      if (kp_wicmp_parse_reply(d->buf[i], d->msgs[i].msg_len, d->id, &out[k])) k++;
    if ((unsigned)got < want) break;
  }
  return k;
}

static size_t icmp_poll(void *ctx, kp_wreply_t *out, size_t max, int64_t deadline) {
  icmp_drv_t *d = ctx;
  size_t k = drain(d, out, max);
  if (k) return k;
  int64_t now = kp_now_mono(kp_clock_system());
  if (deadline <= now) return 0;
  int64_t wait = deadline - now;
  struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
  struct pollfd pf = {.fd = d->fd, .events = POLLIN};
  if (ppoll(&pf, 1, &ts, NULL) > 0) k = drain(d, out, max);
  return k;
}

static const kp_clock_t *icmp_clock(void *ctx) {
  (void)ctx;
  return kp_clock_system();
}

static void icmp_close(void *ctx) {
  icmp_drv_t *d = ctx;
  if (!d) return;
  if (d->fd >= 0) close(d->fd);
  free(d);
}

static const kp_wdriver_ops_t icmp_ops = {
    .name = "icmp", .send = icmp_send, .poll = icmp_poll, .clock = icmp_clock, .close = icmp_close};

#if defined(__SANITIZE_ADDRESS__)
#define KP_LSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KP_LSAN_BUILD 1
#endif
#endif

/* CAP_NET_RAW effective or permitted (true also when capget fails: assume the worst) */
static bool has_net_raw(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct now[2];
  if (syscall(SYS_capget, &h, now) != 0) return true;
  uint32_t bit = 1u << (CAP_NET_RAW & 31);
  return (now[CAP_NET_RAW >> 5].effective & bit) || (now[CAP_NET_RAW >> 5].permitted & bit);
}

/* Clear every capability set; true when CAP_NET_RAW is then gone. */
static bool drop_capabilities(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct none[2];
  memset(none, 0, sizeof none);
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (syscall(SYS_capset, &h, none) != 0) return false;
  return !has_net_raw();
}

static kp_status_t no_new_privs(void) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    kp_log_error(TAG, "cannot set no-new-privs");
    return KP_ERR_PERM;
  }
  return KP_OK;
}

static kp_status_t drop_privileges(const char *user) {
  if (geteuid() != 0) {
    if (!drop_capabilities()) {
      kp_log_error(TAG, "cannot drop capabilities after opening the socket");
      return KP_ERR_PERM;
    }
    return no_new_privs();
  }
  struct passwd *pw = getpwnam(user ? user : "nobody");
  if (!pw) {
    kp_log_error(TAG, "no user %s to drop privileges to", user ? user : "nobody");
    return KP_ERR_PERM;
  }
  if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    kp_log_warn(TAG, "dropping privileges");
    return KP_ERR_PERM;
  }
  if (pw->pw_uid != 0 && setuid(0) == 0) {
    kp_log_error(TAG, "could regain root after dropping privileges");
    return KP_ERR_PERM;
  }
  if (!drop_capabilities()) { /* setuid cleared them already; this is the check */
    kp_log_error(TAG, "capabilities left after dropping privileges");
    return KP_ERR_PERM;
  }
#ifdef KP_LSAN_BUILD
  (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* sanitizer builds only: see the header comment */
#endif
  return no_new_privs();
}

kp_status_t kp_wicmp_open(const kp_wicmp_config_t *cfg, kp_wdriver_t *out) {
  icmp_drv_t *d = calloc(1, sizeof *d);
  if (!d) return KP_ERR_NOMEM;
  d->fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (d->fd < 0) {
    kp_log_warn(TAG, "raw ICMP socket (needs root or CAP_NET_RAW)");
    free(d);
    return KP_ERR_PERM;
  }
  d->id = (uint16_t)(getpid() & 0xFFFF);
  int sz = 8 << 20;
  if (setsockopt(d->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
    (void)setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(d->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
    (void)setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  uint32_t filter = ~(1u << 0); /* bit set = drop that type; keep only echo reply (0) */
  (void)setsockopt(d->fd, SOL_RAW, KP_ICMP_FILTER, &filter, sizeof filter);
  kp_status_t st = KP_OK;
  if (cfg && cfg->src) {
    kp_addr_t a;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (kp_addr_parse(cfg->src, &a) != KP_OK || a.family != 4) {
      st = KP_ERR_INVAL;
    } else {
      sa.sin_addr.s_addr = htonl(kp_addr_v4_u32(&a));
      if (bind(d->fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        kp_log_warn(TAG, "bind %s", cfg->src);
        st = KP_ERR_IO;
      }
    }
  }
  if (st == KP_OK) st = (cfg && cfg->no_drop) ? no_new_privs() : drop_privileges(cfg ? cfg->drop_user : NULL);
  if (st == KP_OK) /* what the kernel now says, not what was asked (tests/watch/lab.sh reads it) */
    kp_log_info(TAG, "privileges: uid %u euid %u, CAP_NET_RAW %s, no-new-privs %d", (unsigned)getuid(),
                (unsigned)geteuid(), has_net_raw() ? "kept" : "gone", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  if (st != KP_OK) {
    icmp_close(d);
    return st;
  }
  *out = (kp_wdriver_t){.ops = &icmp_ops, .ctx = d};
  return KP_OK;
}
