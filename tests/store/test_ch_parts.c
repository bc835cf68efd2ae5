/*
 * test_ch_parts.c: the ClickHouse backend's pure pieces, without a server: the store URL
 * and the TabSeparated answer reader.
 */
#include <string.h>

#include "kp_test.h"
#include "store/clickhouse/ch_internal.h"

KP_TEST(url_one_node_and_cluster) {
  kp_ch_url_t u;
  KP_ASSERT_OK(kp_ch_url_parse("clickhouse://127.0.0.1:8123/keepon", &u));
  KP_ASSERT_EQ(u.nnodes, 1);
  KP_ASSERT_STREQ(u.host[0], "127.0.0.1");
  KP_ASSERT_EQ(u.port[0], 8123);
  KP_ASSERT_STREQ(u.db, "keepon");
  KP_ASSERT_STREQ(u.cluster, "");
  KP_ASSERT_OK(kp_ch_url_parse("clickhouse://a.example:1,[::1]:2,b:3/db_1?cluster=kp_2", &u));
  KP_ASSERT_EQ(u.nnodes, 3);
  KP_ASSERT_STREQ(u.host[1], "::1");
  KP_ASSERT_EQ(u.port[2], 3);
  KP_ASSERT_STREQ(u.cluster, "kp_2");
}

KP_TEST(url_rejects) {
  kp_ch_url_t u;
  static const char *const bad[] = {
    "clickhouse://127.0.0.1/db",            /* no port */
    "clickhouse://127.0.0.1:0/db",          /* port 0 */
    "clickhouse://127.0.0.1:8123/",         /* no database */
    "clickhouse://127.0.0.1:8123/d-b",      /* database not [A-Za-z0-9_] */
    "clickhouse://127.0.0.1:8123/db;DROP",  /* ... nor SQL */
    "clickhouse://a:1,b:2/db",              /* two nodes without a cluster */
    "clickhouse://a:1,/db?cluster=c",       /* empty node */
    "clickhouse://a:1/db?cluster=a'b",      /* cluster name */
    "clickhouse://a:1/db?shard=1",          /* unknown parameter */
    "http://a:1/db", "clickhouse://", NULL};
  for (size_t i = 0; bad[i]; i++) KP_ASSERT_MSG(kp_ch_url_parse(bad[i], &u) == KP_ERR_INVAL, "accepted %s", bad[i]);
  char many[512] = "clickhouse://";
  for (int i = 0; i < KP_CH_MAX_NODES + 1; i++) strcat(many, i ? ",h:1" : "h:1");
  strcat(many, "/db?cluster=c");
  KP_ASSERT_EQ(kp_ch_url_parse(many, &u), KP_ERR_INVAL);
}

KP_TEST(tsv_rows_and_escapes) {
  char a[] = "x\ty\\tz\t\n\\\\\\n\\'\\0q\n";
  size_t off = 0;
  kp_ch_row_t r;
  KP_ASSERT_OK(kp_ch_tsv_next((uint8_t *)a, sizeof a - 1, &off, &r));
  KP_ASSERT_EQ(r.ncol, 3);
  KP_ASSERT_STREQ(r.col[0], "x");
  KP_ASSERT_STREQ(r.col[1], "y\tz");
  KP_ASSERT_STREQ(r.col[2], "");
  KP_ASSERT_OK(kp_ch_tsv_next((uint8_t *)a, sizeof a - 1, &off, &r));
  KP_ASSERT_EQ(r.ncol, 1);
  KP_ASSERT_EQ(r.len[0], 5); /* \ newline ' NUL q */
  KP_ASSERT(memcmp(r.col[0], "\\\n'\0q", 5) == 0);
  KP_ASSERT_EQ(kp_ch_tsv_next((uint8_t *)a, sizeof a - 1, &off, &r), KP_ERR_NOTFOUND);
}

KP_TEST(tsv_rejects) {
  char unterminated[] = "a\tb", esc[] = "a\\", many[64];
  size_t off = 0;
  kp_ch_row_t r;
  KP_ASSERT_EQ(kp_ch_tsv_next((uint8_t *)unterminated, 3, &off, &r), KP_ERR_INVAL);
  off = 0;
  KP_ASSERT_EQ(kp_ch_tsv_next((uint8_t *)esc, 2, &off, &r), KP_ERR_INVAL);
  size_t n = 0;
  for (int i = 0; i < KP_CH_MAX_COLS + 1; i++) many[n++] = 'c', many[n++] = i == KP_CH_MAX_COLS ? '\n' : '\t';
  off = 0;
  KP_ASSERT_EQ(kp_ch_tsv_next((uint8_t *)many, n, &off, &r), KP_ERR_INVAL);
  n = 0; /* exactly KP_CH_MAX_COLS fields (the reader wrote NULs into the last buffer) */
  for (int i = 0; i < KP_CH_MAX_COLS; i++) many[n++] = 'c', many[n++] = i == KP_CH_MAX_COLS - 1 ? '\n' : '\t';
  off = 0;
  KP_ASSERT_OK(kp_ch_tsv_next((uint8_t *)many, n, &off, &r));
  KP_ASSERT_EQ(r.ncol, KP_CH_MAX_COLS);
}
