#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
  struct chunk *next;
  size_t size, used;
  _Alignas(16) unsigned char mem[];
} chunk_t;

struct kp_arena {
  chunk_t *head;
  size_t cap, used;
};

kp_arena_t *kp_arena_create(size_t cap_bytes) {
  kp_arena_t *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->cap = cap_bytes ? cap_bytes : ((size_t)256 << 20);
  return a;
}

void kp_arena_destroy(kp_arena_t *a) {
  if (!a) return;
  chunk_t *c = a->head;
  while (c) {
    chunk_t *n = c->next;
    free(c);
    c = n;
  }
  free(a);
}

void *kp_arena_alloc(kp_arena_t *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  if (n > a->cap - a->used) return NULL;
  chunk_t *c = a->head;
  if (!c || c->size - c->used < n) {
    size_t sz = a->head ? a->head->size * 2 : 4096;
    if (sz > ((size_t)1 << 20)) sz = (size_t)1 << 20;
    if (sz < n) sz = n;
    c = malloc(sizeof *c + sz);
    if (!c) return NULL;
    c->size = sz;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->mem + c->used;
  c->used += n;
  a->used += n;
  return p;
}

char *kp_arena_strndup(kp_arena_t *a, const char *s, size_t n) {
  if (n == SIZE_MAX) return NULL;
  char *p = kp_arena_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

size_t kp_arena_used(const kp_arena_t *a) { return a->used; }
