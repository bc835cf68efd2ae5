/*
 * tls.c: the server's OpenSSL context (module-private; used by server.c).
 *
 * One SSL_CTX per certificate generation: kp_srv_tls_load builds a fresh context from the
 * PEM files and checks that the key matches the certificate before anything is swapped, so a
 * bad reload (SIGHUP with a half-written file) keeps the old pair serving. SSL objects hold
 * a reference to the context they were made from, so connections that started before a
 * reload finish on the old certificate and the old context is freed with the last of them.
 * TLS 1.2 minimum; OpenSSL's default cipher lists; session tickets on (cheap resumption);
 * no client certificates; ALPN not negotiated (HTTP/1.1 only).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/log.h"
#include "server/server_tls.h"

SSL_CTX *kp_srv_tls_load(const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* not SSL_MODE_RELEASE_BUFFERS: it frees and reallocates the record buffers around every
   * read, which cost ~10 % of ingest in bench/serve.sh */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* read ahead: one read() per burst instead of two per record (5-byte header, then the rest);
   * server.c then asks SSL_has_pending(), which counts these raw buffered bytes too */
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    unsigned long e = ERR_get_error();
    char msg[256];
    ERR_error_string_n(e, msg, sizeof msg);
    kp_log_warnx("serve", "TLS certificate %s / key %s: %s", cert, key, msg);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}
