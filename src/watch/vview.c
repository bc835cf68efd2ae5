/*
 * vview.c: the collector's in-memory view of many vantages (kp_vview_t).
 *
 * Rounds are keyed by their start rounded to the nearest multiple of their step, so vantages
 * whose rounds start on the same grid (`keepon watch --align`) land in one round even when
 * their clocks or their previous round's posting differ by less than half a step. Each round
 * keeps the latest post of every vantage; a post re-merges its round (kp_merge_round) and
 * caches the round's merged per-entity points and its faults. The window is the newest
 * KP_VVIEW_ROUNDS rounds: a post for a round older than all of them, when the window is full,
 * is refused (KP_ERR_RANGE); a newer one evicts the oldest. Nothing is persisted here: the
 * collector stores the merged points (datasource ping-slash24) in its store.
 * Memory: at most KP_VVIEW_ROUNDS x KP_MERGE_MAX_VANTAGES posts, and KP_VVIEW_MAX_OBS block
 * observations in all (older rounds are dropped first when a post passes it): a vantage that
 * posts huge rounds pushes out history, never the memory limit.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "watch/watch.h"

typedef struct ent_acc {
  const char *name;       /* "type/code", owned by a post of the round */
  unsigned up, down, unc, full, total;
} ent_acc_t;

typedef struct vround {
  bool used;
  int64_t key, step;
  kp_vpost_t *post[KP_MERGE_MAX_VANTAGES];
  kp_vsignal_t *sig;      /* cached merge result; strings point into sigstr */
  char **sigstr;
  size_t nsig;
  kp_vfault_t *faults;
  size_t nfaults;
  kp_merge_block_t *mb;   /* the merged blocks, ascending */
  size_t nmb;
} vround_t;

struct kp_vview {
  char names[KP_MERGE_MAX_VANTAGES][KP_VANTAGE_ID_MAX + 1];
  size_t nnames;
  size_t nobs;            /* block observations held by all kept posts (<= max_obs) */
  size_t max_obs;         /* KP_VVIEW_MAX_OBS unless kp_vview_set_max_obs */
  vround_t r[KP_VVIEW_ROUNDS];
};

int64_t kp_vview_round_key(int64_t t, int64_t step) {
  if (step < 1) step = 1;
  int64_t k = (t + step / 2) / step;
  return k * step;
}

kp_status_t kp_vview_create(kp_vview_t **out) {
  if (!out) return KP_ERR_INVAL;
  *out = calloc(1, sizeof **out);
  if (!*out) return KP_ERR_NOMEM;
  (*out)->max_obs = KP_VVIEW_MAX_OBS;
  return KP_OK;
}

void kp_vview_set_max_obs(kp_vview_t *v, size_t n) {
  if (v && n) v->max_obs = n;
}

static void clear_result(vround_t *r) {
  for (size_t i = 0; i < r->nsig; i++) free(r->sigstr[i]);
  free(r->sigstr);
  free(r->sig);
  free(r->faults);
  free(r->mb);
  r->mb = NULL;
  r->nmb = 0;
  r->sigstr = NULL;
  r->sig = NULL;
  r->faults = NULL;
  r->nsig = r->nfaults = 0;
}

static void clear_round(kp_vview_t *vw, vround_t *r) {
  for (size_t v = 0; v < KP_MERGE_MAX_VANTAGES; v++) {
    if (r->post[v]) vw->nobs -= r->post[v]->nblocks;
    kp_vpost_free(r->post[v]);
  }
  clear_result(r);
  memset(r, 0, sizeof *r);
}

void kp_vview_free(kp_vview_t *v) {
  if (!v) return;
  for (size_t i = 0; i < KP_VVIEW_ROUNDS; i++) clear_round(v, &v->r[i]);
  free(v);
}

static int cmp_pblock(const void *a, const void *b) {
  uint32_t x = ((const kp_vpost_block_t *)a)->block, y = ((const kp_vpost_block_t *)b)->block;
  return (x > y) - (x < y);
}

static const kp_vpost_block_t *find_block(const kp_vpost_t *p, uint32_t block) {
  kp_vpost_block_t key = {.block = block};
  if (!p->nblocks) return NULL; /* blocks may be NULL then */
  return bsearch(&key, p->blocks, p->nblocks, sizeof key, cmp_pblock);
}

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* merge round r; cache its signal points and faults */
static kp_status_t remerge(kp_vview_t *v, vround_t *r) {
  clear_result(r);
  size_t n = 0, nent = 0, nvant = 0;
  for (size_t i = 0; i < v->nnames; i++)
    if (r->post[i]) {
      n += r->post[i]->nblocks;
      nent += r->post[i]->nentities;
      nvant++;
    }
  kp_vobs_t *obs = malloc((n ? n : 1) * sizeof *obs);
  kp_merge_block_t *mb = malloc((n ? n : 1) * sizeof *mb);
  size_t hcap = 16;
  while (hcap < 2 * nent + 2) hcap *= 2;
  ent_acc_t *acc = calloc(hcap, sizeof *acc);
  kp_merge_vstat_t vs[KP_MERGE_MAX_VANTAGES];
  kp_status_t st = obs && mb && acc ? KP_OK : KP_ERR_NOMEM;
  size_t k = 0, nm = 0;
  for (size_t i = 0; st == KP_OK && i < v->nnames; i++)
    for (size_t j = 0; r->post[i] && j < r->post[i]->nblocks; j++)
      obs[k++] = (kp_vobs_t){.block = r->post[i]->blocks[j].block, .vantage = (uint16_t)i,
                             .state = r->post[i]->blocks[j].state};
  if (st == KP_OK) st = kp_merge_round(obs, k, v->nnames ? v->nnames : 1, mb, &nm, vs);
  unsigned healthy = 0;
  for (size_t i = 0; st == KP_OK && i < v->nnames; i++) {
    if (!r->post[i]) continue;
    if (vs[i].healthy) {
      healthy++;
      continue;
    }
    kp_vfault_t *g = realloc(r->faults, (r->nfaults + 1) * sizeof *g);
    if (!g) {
      st = KP_ERR_NOMEM;
      break;
    }
    r->faults = g;
    kp_vfault_t *f = &r->faults[r->nfaults++];
    snprintf(f->vantage, sizeof f->vantage, "%s", v->names[i]);
    f->t = r->key;
    f->step = r->step;
    f->ref = vs[i].ref;
    f->ref_up = vs[i].ref_up;
  }
  /* per entity: the entities of a block are those of its first reporter (vantage order) */
  size_t nacc = 0;
  for (size_t b = 0; st == KP_OK && b < nm; b++) {
    const kp_vpost_t *p = NULL;
    const kp_vpost_block_t *pb = NULL;
    for (size_t i = 0; i < v->nnames && !pb; i++)
      if (r->post[i] && (pb = find_block(r->post[i], mb[b].block))) p = r->post[i];
    if (!pb) continue;
    for (int e = 0; e < 3; e++) {
      if (pb->e[e] == UINT32_MAX) continue;
      const char *name = p->entities[pb->e[e]];
      size_t h = fnv(name) & (hcap - 1);
      while (acc[h].name && strcmp(acc[h].name, name)) h = (h + 1) & (hcap - 1);
      if (!acc[h].name) {
        if (nacc + 1 >= hcap) continue; /* cannot happen: hcap > 2 * all entities */
        acc[h].name = name;
        nacc++;
      }
      ent_acc_t *a = &acc[h];
      a->total++;
      a->up += mb[b].state == KP_TRI_UP;
      a->down += mb[b].state == KP_TRI_DOWN;
      a->unc += mb[b].state == KP_TRI_UNCERTAIN;
      a->full += mb[b].healthy > 0 && mb[b].agree == mb[b].healthy;
    }
  }
  if (st == KP_OK && nacc) {
    r->sig = calloc(nacc, sizeof *r->sig);
    r->sigstr = calloc(nacc, sizeof *r->sigstr);
    if (!r->sig || !r->sigstr) st = KP_ERR_NOMEM;
  }
  for (size_t h = 0; st == KP_OK && h < hcap; h++) {
    if (!acc[h].name) continue;
    char *s = strdup(acc[h].name);
    if (!s) {
      st = KP_ERR_NOMEM;
      break;
    }
    r->sigstr[r->nsig] = s;
    char *slash = strchr(s, '/'); /* entity_ok: a known type, then '/' */
    *slash = 0;
    kp_vsignal_t *g = &r->sig[r->nsig++];
    g->entity_type = s;
    g->entity_code = slash + 1;
    g->t = r->key;
    g->step = r->step;
    g->up = acc[h].up;
    g->down = acc[h].down;
    g->uncertain = acc[h].unc;
    g->agree_pct = acc[h].total ? (unsigned)((100ULL * acc[h].full + acc[h].total / 2) / acc[h].total) : 0;
    g->vantages = (unsigned)nvant;
    g->healthy = healthy;
  }
  free(obs);
  free(acc);
  if (st == KP_OK) {
    kp_merge_block_t *shrunk = nm ? realloc(mb, nm * sizeof *mb) : NULL;
    r->mb = shrunk ? shrunk : mb;
    if (!nm) {
      free(mb);
      r->mb = NULL;
    }
    r->nmb = nm;
  } else {
    free(mb);
    clear_result(r);
  }
  return st;
}

kp_status_t kp_vview_put(kp_vview_t *v, kp_vpost_t *post) {
  if (!v || !post || !kp_vantage_id_ok(post->vantage)) return KP_ERR_INVAL;
  size_t vi = 0;
  while (vi < v->nnames && strcmp(v->names[vi], post->vantage)) vi++;
  if (vi == v->nnames && v->nnames == KP_MERGE_MAX_VANTAGES) {
    /* a full registry: reuse the index of a vantage no kept round has a post of (renamed or
     * retired vantages must not lock new ones out until a restart) */
    for (vi = 0; vi < v->nnames; vi++) {
      bool used = false;
      for (size_t i = 0; i < KP_VVIEW_ROUNDS && !used; i++) used = v->r[i].used && v->r[i].post[vi];
      if (!used) break;
    }
    if (vi == v->nnames) return KP_ERR_RANGE;
  }
  int64_t key = kp_vview_round_key(post->t, post->step);
  vround_t *r = NULL, *free_slot = NULL, *oldest = NULL;
  for (size_t i = 0; i < KP_VVIEW_ROUNDS; i++) {
    vround_t *x = &v->r[i];
    if (!x->used) {
      if (!free_slot) free_slot = x;
    } else if (x->key == key) {
      r = x;
    } else if (!oldest || x->key < oldest->key) {
      oldest = x;
    }
  }
  if (r && r->step != post->step) return KP_ERR_RANGE;
  if (post->nblocks > v->max_obs) return KP_ERR_RANGE;
  if (!r) {
    if (free_slot) r = free_slot;
    else if (oldest->key < key) {
      clear_round(v, oldest);
      r = oldest;
    } else return KP_ERR_RANGE; /* older than the whole window */
    r->used = true;
    r->key = key;
    r->step = post->step;
  }
  /* the memory cap: make room by dropping whole rounds older than this one, oldest first; a post
   * that only newer rounds could make room for is refused (history is dropped, never the cap) */
  size_t had = r->post[vi] ? r->post[vi]->nblocks : 0;
  while (v->nobs - had + post->nblocks > v->max_obs) {
    vround_t *old = NULL;
    for (size_t i = 0; i < KP_VVIEW_ROUNDS; i++)
      if (v->r[i].used && &v->r[i] != r && (!old || v->r[i].key < old->key)) old = &v->r[i];
    if (!old || old->key > r->key) {
      bool empty = true;
      for (size_t i = 0; i < KP_MERGE_MAX_VANTAGES; i++) empty = empty && !r->post[i];
      if (empty) memset(r, 0, sizeof *r); /* the slot taken for this post */
      return KP_ERR_RANGE;
    }
    clear_round(v, old);
  }
  if (vi == v->nnames) v->nnames++;
  snprintf(v->names[vi], sizeof v->names[0], "%s", post->vantage);
  if (post->nblocks) qsort(post->blocks, post->nblocks, sizeof *post->blocks, cmp_pblock);
  v->nobs -= had;
  kp_vpost_free(r->post[vi]);
  r->post[vi] = post;
  v->nobs += post->nblocks;
  return remerge(v, r);
}

static vround_t *round_at(kp_vview_t *v, int64_t t) {
  for (size_t i = 0; i < KP_VVIEW_ROUNDS; i++)
    if (v->r[i].used && kp_vview_round_key(t, v->r[i].step) == v->r[i].key) return &v->r[i];
  return NULL;
}

kp_status_t kp_vview_signals(kp_vview_t *v, int64_t t, int (*cb)(void *ctx, const kp_vsignal_t *s), void *ctx) {
  vround_t *r = v ? round_at(v, t) : NULL;
  if (!r) return KP_ERR_NOTFOUND;
  for (size_t i = 0; i < r->nsig; i++)
    if (cb(ctx, &r->sig[i])) break;
  return KP_OK;
}

size_t kp_vview_blocks(const kp_vview_t *v, int64_t t, size_t offset, size_t limit, kp_merge_block_t *out,
                       size_t *nout) {
  const vround_t *r = v ? round_at((kp_vview_t *)v, t) : NULL;
  size_t k = 0;
  for (size_t i = offset; r && i < r->nmb && k < limit; i++) out[k++] = r->mb[i];
  if (nout) *nout = k;
  return r ? r->nmb : 0;
}

static int cmp_round_ptr(const void *a, const void *b) {
  int64_t x = (*(vround_t *const *)a)->key, y = (*(vround_t *const *)b)->key;
  return (x > y) - (x < y);
}

size_t kp_vview_faults(const kp_vview_t *v, size_t offset, size_t limit, kp_vfault_t *out, size_t *nout) {
  const vround_t *ord[KP_VVIEW_ROUNDS];
  size_t nr = 0, total = 0, k = 0;
  for (size_t i = 0; v && i < KP_VVIEW_ROUNDS; i++)
    if (v->r[i].used) ord[nr++] = &v->r[i];
  qsort(ord, nr, sizeof *ord, cmp_round_ptr);
  for (size_t i = 0; i < nr; i++)
    for (size_t j = 0; j < ord[i]->nfaults; j++, total++)
      if (total >= offset && k < limit && out) out[k++] = ord[i]->faults[j];
  if (nout) *nout = k;
  return total;
}
