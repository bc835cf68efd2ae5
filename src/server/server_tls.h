/* server_tls.h: module-private TLS context loader of kp_srv (tls.c). */
#ifndef KP_SERVER_SERVER_TLS_H
#define KP_SERVER_SERVER_TLS_H

#include <openssl/ssl.h>

/** A server context from PEM files (chain, key), key checked against the certificate; NULL on error (logged). */
SSL_CTX *kp_srv_tls_load(const char *cert, const char *key);

#endif
