/*
 * census.c: find each block's ever-responsive addresses E(b) and their availability A(E(b))
 * by probing every address of every /24 `passes` times (keepon census).
 *
 * Each pass visits all n*256 addresses in a shuffled order (affine permutation over the
 * address space of the universe, so no /24 sees a burst), paced by the rate cap, then waits one
 * timeout for stragglers. A reply counts once per address and pass (a bitmap per pass), only
 * when its token belongs to the current pass and it comes from the address that was probed.
 * Per address: hits (0..passes); E(b) = {hits > 0}; A(E(b)) = mean(hits / passes) over E(b).
 * Blocks meeting the limits become census lines (kp_wuniv_census_line).
 */
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/log.h"
#include "watch/watch.h"

#define TAG "census"


static size_t find(const uint32_t *blocks, size_t n, uint32_t addr) {
  uint32_t key = addr & 0xFFFFFF00u;
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (blocks[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && blocks[lo] == key ? lo : SIZE_MAX;
}

static void take_replies(const kp_wreply_t *rep, size_t k, const uint32_t *blocks, size_t n,
                         uint32_t tok_lo, uint32_t tok_hi, uint8_t *bits, uint64_t *replies) {
  for (size_t i = 0; i < k; i++) {
    if (rep[i].token < tok_lo || rep[i].token >= tok_hi) continue; /* another pass */
    size_t b = find(blocks, n, rep[i].addr);
    if (b == SIZE_MAX) continue;
    size_t bit = b * 256 + (rep[i].addr & 0xFF);
    if (!(bits[bit >> 3] & (1u << (bit & 7)))) {
      bits[bit >> 3] |= (uint8_t)(1u << (bit & 7));
      (*replies)++;
    }
  }
}

kp_status_t kp_census_run(const kp_census_config_t *cfg, const uint32_t *blocks, size_t n,
                          kp_wdriver_t drv, kp_buf_t *out_lines,
                          void (*would_send)(void *ctx, uint32_t addr), void *ctx,
                          kp_census_stats_t *stats) {
  memset(stats, 0, sizeof *stats);
  unsigned passes = cfg->passes ? cfg->passes : 3;
  if (passes > 255 || n == 0 || n > ((size_t)1 << 24)) return KP_ERR_INVAL;
  for (size_t i = 1; i < n; i++)
    if (blocks[i] <= blocks[i - 1]) return KP_ERR_INVAL; /* sorted, unique */
  uint64_t space = (uint64_t)n * 256;
  uint8_t *hits = calloc(space, 1);
  uint8_t *bits = malloc(space / 8);
  kp_wreply_t *rep = malloc(1024 * sizeof *rep);
  if (!hits || !bits || !rep) {
    free(hits);
    free(bits);
    free(rep);
    return KP_ERR_NOMEM;
  }
  const kp_clock_t *clk = drv.ops->clock(drv.ctx);
  int64_t timeout_ns = (int64_t)((cfg->timeout_s > 0 ? cfg->timeout_s : 3.0) * 1e9);
  uint64_t rng = 0x63656E73ull;
  uint32_t token = 0;
  for (unsigned pass = 0; pass < passes; pass++) {
    memset(bits, 0, space / 8);
    kp_perm_t perm = kp_perm_make(&rng, space);
    uint32_t tok_lo = token;
    double tokens = 1;
    int64_t last = kp_now_mono(clk);
    for (uint64_t i = 0; i < space;) {
      uint64_t j = kp_perm_at(&perm, i);
      uint32_t addr = blocks[j >> 8] | (uint32_t)(j & 0xFF);
      if (cfg->blocklist && kp_wblock_contains(cfg->blocklist, addr)) {
        i++;
        continue;
      }
      if (cfg->dry_run) {
        if (would_send) would_send(ctx, addr);
        i++;
        continue;
      }
      int64_t now = kp_now_mono(clk);
      if (cfg->rate > 0) {
        tokens += (double)(now - last) * 1e-9 * cfg->rate;
        if (tokens > cfg->rate / 100.0 + 1) tokens = cfg->rate / 100.0 + 1;
        last = now;
        if (tokens < 1) {
          int64_t wake = now + (int64_t)((1 - tokens) / cfg->rate * 1e9) + 1;
          size_t k = drv.ops->poll(drv.ctx, rep, 1024, wake);
          take_replies(rep, k, blocks, n, tok_lo, token, bits, &stats->replies);
          continue;
        }
      }
      kp_status_t st = drv.ops->send(drv.ctx, addr, token);
      if (st == KP_ERR_BUSY) {
        size_t k = drv.ops->poll(drv.ctx, rep, 1024, now + 200000);
        take_replies(rep, k, blocks, n, tok_lo, token, bits, &stats->replies);
        continue;
      }
      token++;
      tokens -= 1;
      stats->sent++;
      i++;
      if ((i & 255) == 0) {
        size_t k = drv.ops->poll(drv.ctx, rep, 1024, now);
        take_replies(rep, k, blocks, n, tok_lo, token, bits, &stats->replies);
      }
    }
    if (cfg->dry_run) break;
    int64_t end = kp_now_mono(clk) + timeout_ns;
    for (int64_t now = kp_now_mono(clk); now < end; now = kp_now_mono(clk)) {
      size_t k = drv.ops->poll(drv.ctx, rep, 1024, end);
      take_replies(rep, k, blocks, n, tok_lo, token, bits, &stats->replies);
    }
    for (uint64_t b = 0; b < space; b++)
      if (bits[b >> 3] & (1u << (b & 7))) hits[b]++;
  }
  kp_status_t st = KP_OK;
  for (size_t b = 0; b < n && st == KP_OK && !cfg->dry_run; b++) {
    uint8_t hosts[256];
    size_t nh = 0;
    double sum = 0;
    for (unsigned h = 0; h < 256; h++) {
      uint8_t v = hits[b * 256 + h];
      if (!v) continue;
      hosts[nh++] = (uint8_t)h;
      sum += (double)v / passes;
    }
    if (nh == 0) {
      stats->silent++;
      continue;
    }
    double avail = sum / (double)nh;
    unsigned min_hosts = cfg->limits.min_hosts ? cfg->limits.min_hosts : 15;
    double min_avail = cfg->limits.min_avail > 0 ? cfg->limits.min_avail : 0.1;
    if (nh < min_hosts || avail < min_avail) {
      stats->rejected++;
      continue;
    }
    st = kp_wuniv_census_line(out_lines, blocks[b], hosts, nh, avail);
    stats->kept++;
  }
  free(hits);
  free(bits);
  free(rep);
  return st;
}
