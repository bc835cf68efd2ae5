/*
 * arena.h: bump allocator with a byte cap; everything is freed at once.
 * Used for parse trees (JSON, DNS messages) so a parser never leaks on error.
 */
#ifndef KP_BASE_ARENA_H
#define KP_BASE_ARENA_H

#include <stddef.h>

typedef struct kp_arena kp_arena_t;

/** @param cap_bytes total bytes the arena may hand out (0 = 256 MiB). */
kp_arena_t *kp_arena_create(size_t cap_bytes);
void kp_arena_destroy(kp_arena_t *a);
/** 16-byte aligned; NULL when out of memory or over the cap. */
void *kp_arena_alloc(kp_arena_t *a, size_t n);
/** Copy @p n bytes and add a NUL. */
char *kp_arena_strndup(kp_arena_t *a, const char *s, size_t n);
size_t kp_arena_used(const kp_arena_t *a);

#endif
