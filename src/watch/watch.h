/*
 * watch.h: Trinocular-style adaptive probing of IPv4 /24 blocks (keepon watch / census).
 *
 * Pieces:
 *   - belief math (kp_tri_*): the Bayesian update, thresholds and recovery table of
 *     Trinocular as specified in ../shared/docs/outage-detection-anchors.md §1;
 *   - the universe (kp_wuniv_t): blocks, their ever-responsive hosts E(b) in one shared pool,
 *     availabilities A(E(b)) and an entity tuple (country, region, ASN) per block;
 *   - drivers (kp_wdriver_t): how probes leave and replies come back (icmp, sim);
 *   - the engine (kp_watch_t): rounds, per-block state, budgets, rate cap, output records.
 * Library code: no stdout, no exit; records go to caller-supplied sinks.
 */
#ifndef KP_WATCH_WATCH_H
#define KP_WATCH_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "geo/geo.h"

/* ---- Trinocular belief (pure) ---- */
typedef enum kp_tri_state { KP_TRI_UP = 0, KP_TRI_UNCERTAIN = 1, KP_TRI_DOWN = 2 } kp_tri_state_t;

#define KP_TRI_LOSS 0.01          /* ℓ */
#define KP_TRI_BLOCK_SIZE 256.0   /* |b| */
#define KP_TRI_UP_BELIEF 0.9      /* UP when B(U) > 0.9 */
#define KP_TRI_DOWN_BELIEF 0.1    /* DOWN when B(U) < 0.1 */
#define KP_TRI_START_BELIEF 0.99
#define KP_TRI_BUDGET 15          /* probes per block per round */

/** One Bayesian step: B(U) after a positive (reply) or negative (timeout) probe, capped. */
double kp_tri_update(double belief_up, double avail, bool positive);
kp_tri_state_t kp_tri_classify(double belief_up);
/** Recovery probe count k = ceil(log 0.2 / log(1 - A)): 1 for A >= 0.8, 16 for A = 0.1, at most
 *  64 (A -> 0). The engine caps it at the round budget. */
unsigned kp_tri_recovery_k(double avail);
/** Trinocular's accepted chance that a block which came back still looks down after its
 *  recovery probes: (1 - A)^k <= miss. */
#define KP_TRI_RECOVERY_MISS 0.2
/** The same with another miss probability: k = ceil(log miss / log(1 - A)), in [1, 64]. */
unsigned kp_tri_recovery_k_miss(double avail, double miss);
/** Backoff rule: is a DOWN block eligible for recovery probing after @p rounds_since_up? */
bool kp_tri_recovery_round(unsigned rounds_since_up);
const char *kp_tri_state_name(kp_tri_state_t s);

/* ---- universe ---- */
typedef struct kp_wuniv kp_wuniv_t;

typedef struct kp_wuniv_limits {
  unsigned min_hosts;   /* |E(b)| threshold, default 15 */
  double min_avail;     /* A(E(b)) threshold, default 0.1 */
} kp_wuniv_limits_t;

kp_status_t kp_wuniv_create(kp_wuniv_t **out);
void kp_wuniv_free(kp_wuniv_t *u);
/**
 * Add one block (network address, host order) with its E(b) host octets and A.
 * Blocks below the limits are counted as rejected and not added (returns KP_OK).
 */
kp_status_t kp_wuniv_add(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, uint32_t block,
                         const uint8_t *hosts, size_t nhosts, double avail);
size_t kp_wuniv_count(const kp_wuniv_t *u);
size_t kp_wuniv_rejected(const kp_wuniv_t *u);
uint32_t kp_wuniv_block(const kp_wuniv_t *u, size_t i);
double kp_wuniv_avail(const kp_wuniv_t *u, size_t i);
size_t kp_wuniv_hosts(const kp_wuniv_t *u, size_t i, const uint8_t **hosts);
/** Index of a block (any address inside it), or SIZE_MAX. Needs kp_wuniv_seal(). */
size_t kp_wuniv_find(const kp_wuniv_t *u, uint32_t addr);
/** Sort by address, shuffle every E(b) (seeded), assign entities (geo may be NULL: the
 *  country is then @p default_cc when given). Call once after the last add. */
kp_status_t kp_wuniv_seal(kp_wuniv_t *u, const kp_geo_t *geo, const char *default_cc,
                          uint64_t seed);
/** Entities: country "KZ", region "KZ/Almaty", asn "AS9198" (ids 0..n-1, after seal). */
size_t kp_wuniv_nentities(const kp_wuniv_t *u);
const char *kp_wuniv_entity(const kp_wuniv_t *u, size_t id, const char **type);
/** Block i's entity tuple and that tuple's (up to 3) entity ids; UINT32_MAX = none. */
uint32_t kp_wuniv_tuple(const kp_wuniv_t *u, size_t i);
size_t kp_wuniv_ntuples(const kp_wuniv_t *u);
void kp_wuniv_tuple_ids(const kp_wuniv_t *u, uint32_t tuple, uint32_t ids[3]);
/** Bytes of the universe's per-block arrays and of the host pool. */
void kp_wuniv_memory(const kp_wuniv_t *u, size_t *per_block_bytes, size_t *pool_bytes);

/**
 * Census file (JSON Lines, docs/watch.md): {"block":"a.b.c.0/24","a":0.52,"hosts":[1,5,...]}.
 * Parsing is pure (bytes in, universe out); lines failing the limits are skipped.
 * @p line_err receives the 1-based line of the first malformed line.
 */
kp_status_t kp_wuniv_parse_census(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const void *p,
                                  size_t n, size_t *line_err);
/** ANT history lines "hexip dottedip hexhistory score": e_b = popcount(h & 0xF) / 4. */
kp_status_t kp_wuniv_parse_history(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const void *p,
                                   size_t n, size_t *line_err);
/** Append one census line for a block. */
kp_status_t kp_wuniv_census_line(kp_buf_t *out, uint32_t block, const uint8_t *hosts,
                                 size_t nhosts, double avail);

/* ---- file loaders (I/O wrappers around the pure parsers; errors logged with line numbers) ---- */
kp_status_t kp_wuniv_load_census(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const char *path);
kp_status_t kp_wuniv_load_history(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const char *path);
/** Keep only blocks inside @p allowed (sorted /24 list); call before kp_wuniv_seal().
 *  @return how many blocks were dropped */
size_t kp_wuniv_restrict(kp_wuniv_t *u, const uint32_t *allowed, size_t n);

/* ---- blocklist (zmap format) ---- */
typedef struct kp_wblock kp_wblock_t;
/** zmap blocklist: one prefix or address per line, '#' comments. Pure. */
kp_status_t kp_wblock_parse(const void *p, size_t n, kp_wblock_t **out, size_t *line_err);
void kp_wblock_free(kp_wblock_t *b);
kp_status_t kp_wblock_load(const char *path, kp_wblock_t **out);
bool kp_wblock_contains(const kp_wblock_t *b, uint32_t addr);
/** Does the list hit any address of the /24 @p block? */
bool kp_wblock_hits_block(const kp_wblock_t *b, uint32_t block);
/** Does the list cover all 256 addresses of the /24 @p block? */
bool kp_wblock_covers_block(const kp_wblock_t *b, uint32_t block);
/**
 * The built-in reserved-range blocklist joined to a user one: *@p bl (may be
 * NULL; consumed) becomes user ∪ (reserved − allow). Reserved = the IPv4
 * special-purpose registry (RFC 6890 and its updates: this network, private,
 * shared CGN, loopback, link-local, IETF protocol assignments, documentation,
 * 6to4 relay, benchmarking 198.18.0.0/15), multicast 224/4 and reserved 240/4
 * with the limited broadcast. @p allow (comma-separated IPv4 prefixes or NULL,
 * e.g. the lab's 198.18.0.0/15 via --allow-reserved) opens reserved space
 * explicitly; it never opens anything the user's list blocks. KP_ERR_INVAL for
 * a malformed allow list.
 */
kp_status_t kp_wblock_with_reserved(kp_wblock_t **bl, const char *allow);

/* ---- drivers ---- */
typedef struct kp_wreply {
  uint32_t token;  /* what send() was given */
  uint32_t addr;   /* who answered (host order) */
} kp_wreply_t;

typedef struct kp_wdriver_ops {
  const char *name;
  /** Queue one echo request to @p addr; KP_ERR_BUSY = try later (socket full). */
  kp_status_t (*send)(void *ctx, uint32_t addr, uint32_t token);
  /** Deliver replies that arrive before @p deadline_ns (the driver's clock); may return early
   *  when at least one reply is ready. @return number of replies written. */
  size_t (*poll)(void *ctx, kp_wreply_t *out, size_t max, int64_t deadline_ns);
  /** The clock the driver's deadlines use (the sim has its own, faster than real time). */
  const kp_clock_t *(*clock)(void *ctx);
  void (*close)(void *ctx);
} kp_wdriver_ops_t;

typedef struct kp_wdriver {
  const kp_wdriver_ops_t *ops;
  void *ctx;
} kp_wdriver_t;

/* sim driver: model in JSON (docs/watch.md). Pure parse + in-process model. */
typedef struct kp_wsim kp_wsim_t;
/** @param base_dir resolves relative "file" paths in the model (may be NULL) */
kp_status_t kp_wsim_parse(const void *p, size_t n, const char *base_dir, kp_wsim_t **out,
                          char *err, size_t errcap);
/** Read a model file; relative "file"/"cidr" paths resolve against the model's folder. */
kp_status_t kp_wsim_load(const char *path, kp_wsim_t **out, char *err, size_t errcap);
void kp_wsim_free(kp_wsim_t *s);
kp_wdriver_t kp_wsim_driver(kp_wsim_t *s);
/** Ground-truth census of the model (E(b) = the model's responsive hosts). */
kp_status_t kp_wsim_universe(const kp_wsim_t *s, kp_wuniv_t *u, const kp_wuniv_limits_t *lim);
/** Model start, Unix seconds. */
int64_t kp_wsim_start(const kp_wsim_t *s);
/** Is @p addr's block in an outage at model time @p t (Unix seconds)? (tests use this) */
bool kp_wsim_is_out(const kp_wsim_t *s, uint32_t addr, int64_t t);
uint64_t kp_wsim_sent(const kp_wsim_t *s);

/* icmp driver: raw IPv4 ICMP echo. */
typedef struct kp_wicmp_config {
  const char *src;        /* source address or NULL */
  bool no_drop;           /* keep root privileges */
  const char *drop_user;  /* default "nobody" */
} kp_wicmp_config_t;
kp_status_t kp_wicmp_open(const kp_wicmp_config_t *cfg, kp_wdriver_t *out);
/**
 * The driver a command asked for: the sim over *model when @p is_sim; else, for a dry run, a
 * driver that never answers (a one-block silent model is made into *model, nothing is sent);
 * else the icmp driver (raw socket, privileges dropped per @p ic). The caller frees *model.
 */
kp_status_t kp_wdriver_select(bool is_sim, bool dry_run, const kp_wicmp_config_t *ic, kp_wsim_t **model,
                              kp_wdriver_t *out);
/** Pure ICMP echo-reply parse (IPv4 header + ICMP): id/seq/payload token, source. */
bool kp_wicmp_parse_reply(const uint8_t *pkt, size_t n, uint16_t id, kp_wreply_t *out);

/* ---- engine ---- */
typedef struct kp_watch kp_watch_t;

typedef struct kp_watch_config {
  double round_s;        /* round length, default 600 */
  double timeout_s;      /* probe timeout, default 3 */
  double spread;         /* fraction of the round over which periodic probes go out (0.5) */
  double rate;           /* packets/s cap, 0 = none */
  double recovery_miss;  /* recovery probes per DOWN block: (1-A)^k <= this; 0 = Trinocular's 0.2 */
  uint64_t seed;         /* shuffling */
  const kp_wblock_t *blocklist; /* never probed, may be NULL */
  bool dry_run;          /* record what would be sent, send nothing */
  bool align;            /* rounds start on multiples of round_s on the driver's wall clock */
  const volatile int *stop; /* when set non-zero (e.g. by a signal handler) the round ends
                               early: kp_watch_round returns KP_ERR_TIMEOUT, no records */
} kp_watch_config_t;

/** Per-block result of a round (what the detail records carry). */
typedef struct kp_watch_block_rec {
  uint32_t block;
  double belief;
  kp_tri_state_t state;
  unsigned pos, neg;
  bool changed;  /* state differs from the previous round's (always true in round 0) */
} kp_watch_block_rec_t;

typedef struct kp_watch_sinks {
  /** each block after each round (NULL = skip); @p t is the round's start, wall-clock ns */
  void (*block)(void *ctx, uint64_t round, int64_t t, const kp_watch_block_rec_t *r);
  /** each entity after each round (t as above) */
  void (*entity)(void *ctx, uint64_t round, int64_t t, const char *type, const char *code,
                 unsigned up, unsigned down, unsigned uncertain);
  /** dry run: each probe that would be sent */
  void (*would_send)(void *ctx, uint32_t addr);
  void *ctx;
} kp_watch_sinks_t;

typedef struct kp_watch_stats {
  uint64_t sent, replies, timeouts, unmatched, blocked, unprobed;
  uint64_t skipped;  /* scheduled rounds not run: called after their last send time */
  int64_t lag_ns;    /* how long after its scheduled start the last round began */
  uint64_t reanchored;  /* aligned grids re-anchored after the wall clock went back > a round */
  int64_t step_back_ns; /* the last re-anchoring: how far back the grid moved (k * round_s) */
} kp_watch_stats_t;

kp_status_t kp_watch_create(const kp_watch_config_t *cfg, const kp_wuniv_t *u, kp_wdriver_t drv,
                            kp_watch_t **out);
void kp_watch_free(kp_watch_t *w);
/**
 * Run the next round of the schedule; returns when the round's time is over (KP_ERR_TIMEOUT
 * when cfg.stop ended it early). The schedule is fixed when the first round is called: round k
 * occupies [g0 + k*round_s, g0 + (k+1)*round_s), g0 = that first call's time, or with cfg.align
 * the next multiple of round_s on the wall clock. What the caller does between rounds (output,
 * uploads) does not shift later rounds: a round called early waits for its start, one called
 * late is shortened to end on time, and one called later than its last send time is skipped
 * (stats.skipped). With cfg.align, a wall clock set back by more than a round re-anchors the
 * grid at the next multiple of round_s (stats.reanchored) instead of waiting out the step. The
 * sinks' @p t is the round's scheduled start.
 */
kp_status_t kp_watch_round(kp_watch_t *w, const kp_watch_sinks_t *sinks);
/** Counters since kp_watch_create. */
kp_watch_stats_t kp_watch_stats(const kp_watch_t *w);
/** Bytes of per-block decision state. */
size_t kp_watch_state_bytes(void);
/** Current belief / stable state of block i (tests). */
double kp_watch_belief(const kp_watch_t *w, size_t i);

/* census engine: probe every address of each /24 @p passes times through @p drv */
typedef struct kp_census_config {
  unsigned passes;        /* default 3 */
  double rate;            /* packets/s cap, 0 = none */
  double timeout_s;
  const kp_wblock_t *blocklist;
  bool dry_run;
  kp_wuniv_limits_t limits; /* blocks kept in the output */
} kp_census_config_t;

typedef struct kp_census_stats {
  uint64_t sent, replies, kept, rejected, silent;
} kp_census_stats_t;
kp_status_t kp_census_run(const kp_census_config_t *cfg, const uint32_t *blocks, size_t n,
                          kp_wdriver_t drv, kp_buf_t *out_lines,
                          void (*would_send)(void *ctx, uint32_t addr), void *ctx,
                          kp_census_stats_t *stats);

/* ---- many vantages (merge.c, vpost.c, vview.c; docs/watch.md "Many vantages") ----
 * Several watch vantages probe the same blocks; one collector merges their per-round block
 * states. The merge is pure (kp_merge_round); the view (kp_vview_t) keeps the last rounds of
 * every vantage in memory, re-merges a round when a vantage posts it and hands out the merged
 * per-entity signal and the vantage faults. */
#define KP_MERGE_MAX_VANTAGES 32
/** A vantage is healthy in a round when it sees up at least this share of the blocks that
 *  some other vantage sees up (its "reference" blocks). */
#define KP_MERGE_HEALTH_MIN 0.5
/** ... and it is judged only when its reference set holds at least this share of the round's
 *  blocks (and at least KP_MERGE_MIN_REF blocks): when the others see almost nothing up, the
 *  country itself is down and a vantage seeing it down agrees with them. */
#define KP_MERGE_JUDGE_MIN 0.2
#define KP_MERGE_MIN_REF 2

typedef struct kp_vobs {
  uint32_t block;    /* /24 network address, host order */
  uint16_t vantage;  /* index 0..nvantages-1 */
  uint8_t state;     /* kp_tri_state_t */
} kp_vobs_t;

typedef struct kp_merge_vstat {
  unsigned reported;  /* blocks this vantage reported in the round */
  unsigned up;        /* ... of them up */
  unsigned ref;       /* reported blocks that another vantage sees up */
  unsigned ref_up;    /* ... that this vantage sees up too */
  bool judged;        /* ref large enough to judge (KP_MERGE_JUDGE_MIN, KP_MERGE_MIN_REF) */
  bool healthy;       /* !judged || ref_up >= KP_MERGE_HEALTH_MIN * ref */
} kp_merge_vstat_t;

typedef struct kp_merge_block {
  uint32_t block;
  uint8_t state;      /* merged kp_tri_state_t */
  uint8_t reported;   /* vantages that reported the block */
  uint8_t healthy;    /* ... of them healthy (the ones that decide) */
  uint8_t agree;      /* healthy vantages whose own state is the merged state */
} kp_merge_block_t;

/**
 * Merge one round. @p obs (sorted in place by block, vantage; a vantage's second observation
 * of a block is ignored) holds every vantage's state of every block it probed; @p nvantages
 * <= KP_MERGE_MAX_VANTAGES. Writes one kp_merge_block_t per distinct block to @p out
 * (capacity @p n; *nout = count, ascending block) and one kp_merge_vstat_t per vantage to
 * @p vs. Rule (state diagram in merge.c): DOWN when every healthy reporter sees DOWN, UP when
 * a healthy reporter sees UP, else UNCERTAIN (also when no reporter is healthy).
 */
kp_status_t kp_merge_round(kp_vobs_t *obs, size_t n, size_t nvantages, kp_merge_block_t *out,
                           size_t *nout, kp_merge_vstat_t *vs);

/* A vantage's post (POST /api/v1/watch/blocks), JSON Lines (docs/serve.md):
 *   {"type":"vantage","vantage":"v1","t":1641362400,"step":600,"entities":["country/KZ",...]}
 *   {"block":"198.18.1.0/24","state":"down","e":[0,2]}      (e: indexes into entities)
 * Parsed purely (kp_vpost_parse: every line via kp_json_parse, limits below). */
#define KP_VPOST_MAX_ENTITIES 65536
#define KP_VPOST_MAX_BLOCKS ((size_t)1 << 21)
#define KP_VANTAGE_ID_MAX 32
typedef struct kp_vpost_block {
  uint32_t block;
  uint8_t state;
  uint32_t e[3];  /* entity indexes, UINT32_MAX = none */
} kp_vpost_block_t;
typedef struct kp_vpost {
  char vantage[KP_VANTAGE_ID_MAX + 1];
  int64_t t, step;
  char **entities;          /* "type/code" */
  size_t nentities;
  kp_vpost_block_t *blocks;
  size_t nblocks;
} kp_vpost_t;
/** Is @p s a vantage id: 1..32 of [A-Za-z0-9._-]? */
bool kp_vantage_id_ok(const char *s);
/** @p err gets "line N: why" on KP_ERR_INVAL. */
kp_status_t kp_vpost_parse(const void *p, size_t n, kp_vpost_t **out, char *err, size_t errcap);
void kp_vpost_free(kp_vpost_t *v);
/** Header line of a post (the writer side, cmd_watch). */
void kp_vpost_header(kp_buf_t *out, const char *vantage, int64_t t, int64_t step,
                     const char *const *entities, size_t n);
void kp_vpost_block_line(kp_buf_t *out, uint32_t block, kp_tri_state_t st, const uint32_t e[3]);

/* The collector's view: the last KP_VVIEW_ROUNDS rounds (t rounded to the nearest multiple of
 * step) of up to KP_MERGE_MAX_VANTAGES vantages, in memory. */
#define KP_VVIEW_ROUNDS 64
/** block observations kept over all rounds and vantages (~20 B each): 8.4 M, e.g. 3 vantages x
 *  64 rounds of Kazakhstan's 12,587 /24s is 2.4 M */
#define KP_VVIEW_MAX_OBS ((size_t)1 << 23)
typedef struct kp_vview kp_vview_t;
/** One merged per-entity point (ping-slash24 from the merged states). */
typedef struct kp_vsignal {
  const char *entity_type, *entity_code;  /* live until the next kp_vview call */
  int64_t t, step;
  unsigned up, down, uncertain;
  unsigned agree_pct;   /* share of the entity's blocks on which every healthy vantage agrees */
  unsigned vantages, healthy;
} kp_vsignal_t;
typedef struct kp_vfault {
  char vantage[KP_VANTAGE_ID_MAX + 1];
  int64_t t, step;
  unsigned ref, ref_up;     /* blocks others see up / of them this vantage sees up */
} kp_vfault_t;
kp_status_t kp_vview_create(kp_vview_t **out);
/** Another cap on the observations kept (tests; default KP_VVIEW_MAX_OBS). */
void kp_vview_set_max_obs(kp_vview_t *v, size_t n);
void kp_vview_free(kp_vview_t *v);
/** Take a post (consumed on KP_OK) and re-merge its round. KP_ERR_RANGE: too many vantages, a
 *  round older than the kept window, or a step that disagrees with the round's. */
kp_status_t kp_vview_put(kp_vview_t *v, kp_vpost_t *post);
/** The merged signal of the round at @p t (after kp_vview_put); cb per entity. */
kp_status_t kp_vview_signals(kp_vview_t *v, int64_t t, int (*cb)(void *ctx, const kp_vsignal_t *s), void *ctx);
/** The merged blocks of the round at @p t, ascending, from @p offset (at most @p limit).
 *  @return the round's block count (0 when no such round) */
size_t kp_vview_blocks(const kp_vview_t *v, int64_t t, size_t offset, size_t limit, kp_merge_block_t *out,
                       size_t *nout);
/** Faults, newest round last; @p offset / @p limit page through them. @return total count */
size_t kp_vview_faults(const kp_vview_t *v, size_t offset, size_t limit, kp_vfault_t *out, size_t *nout);
/** Rounded round start used as the key of @p t (nearest multiple of @p step). */
int64_t kp_vview_round_key(int64_t t, int64_t step);

#endif
