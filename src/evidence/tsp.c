/*
 * tsp.c: RFC 3161 time-stamps on a bundle's manifest (OpenSSL's TS_* API).
 *
 * Request: a SHA-256 imprint of the manifest bytes, a random 64-bit nonce, certReq = true (the
 * TSA puts its signing certificate into the token, so the bundle carries what is needed to check
 * the signature; only the trust anchor comes from outside). Sent over HTTP as RFC 3161 section
 * 3.4 says: POST, Content-Type application/timestamp-query.
 * Reply check at bundle time: status granted (0) or grantedWithMods (1), nonce echoed, imprint
 * ours, signature verifies against the given anchor. Verify time (offline): the same without the
 * nonce, and the imprint recomputed from the manifest bytes with the token's own algorithm,
 * which must be SHA-256, -384 or -512.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evidence/internal.h"

static void ossl_why(char *why, size_t cap, const char *what) {
  unsigned long e = ERR_get_error();
  char b[200] = "";
  if (e) ERR_error_string_n(e, b, sizeof b);
  snprintf(why, cap, "%s%s%s", what, e ? ": " : "", b);
  ERR_clear_error();
}

kp_status_t kp_ev_ts_query(const uint8_t *data, size_t n, kp_buf_t *der, uint8_t nonce_out[8]) {
  uint8_t md[32];
  kp_sha256(data, n, md);
  kp_status_t st = KP_ERR_INTERNAL;
  TS_REQ *req = TS_REQ_new();
  TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
  X509_ALGOR *alg = X509_ALGOR_new();
  ASN1_INTEGER *nonce = NULL;
  BIGNUM *bn = NULL;
  unsigned char *out = NULL;
  if (!req || !mi || !alg || RAND_bytes(nonce_out, 8) != 1) goto out;
  nonce_out[0] &= 0x7f; /* positive */
  if (!X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) || !TS_MSG_IMPRINT_set_algo(mi, alg) ||
      !TS_MSG_IMPRINT_set_msg(mi, md, 32) || !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
      !TS_REQ_set_cert_req(req, 1))
    goto out;
  bn = BN_bin2bn(nonce_out, 8, NULL);
  nonce = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
  if (!nonce || !TS_REQ_set_nonce(req, nonce)) goto out;
  int len = i2d_TS_REQ(req, &out);
  if (len <= 0) goto out;
  st = kp_buf_append(der, out, (size_t)len);
out:
  OPENSSL_free(out);
  BN_free(bn);
  ASN1_INTEGER_free(nonce);
  X509_ALGOR_free(alg);
  TS_MSG_IMPRINT_free(mi);
  TS_REQ_free(req);
  return st;
}

static X509_STORE *load_anchor(const uint8_t *pem, size_t n) {
  X509_STORE *s = X509_STORE_new();
  BIO *b = BIO_new_mem_buf(pem, (int)n);
  X509 *x;
  int added = 0;
  while (s && b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (X509_STORE_add_cert(s, x) == 1) added++;
    X509_free(x);
  }
  ERR_clear_error(); /* the loop ends on "no start line" */
  BIO_free(b);
  if (!added) {
    X509_STORE_free(s);
    return NULL;
  }
  return s;
}

kp_status_t kp_ev_ts_check(const uint8_t *tsr, size_t tsr_len, const uint8_t *data, size_t n, const uint8_t *anchor_pem,
                           size_t anchor_len, const uint8_t *nonce /* NULL: not checked */, kp_ev_ts_info_t *info,
                           char *why, size_t why_cap) {
  memset(info, 0, sizeof *info);
  snprintf(why, why_cap, "%s", "");
  const unsigned char *p = tsr;
  TS_RESP *resp = tsr_len < (1u << 24) ? d2i_TS_RESP(NULL, &p, (long)tsr_len) : NULL;
  TS_VERIFY_CTX *vc = NULL;
  kp_status_t st = KP_ERR_PERM;
  if (!resp || p != tsr + tsr_len) {
    ossl_why(why, why_cap, "the timestamp is not a DER RFC 3161 TimeStampResp");
    goto out;
  }
  long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
  TS_TST_INFO *tst = TS_RESP_get_tst_info(resp);
  if ((status != 0 && status != 1) || !tst) {
    snprintf(why, why_cap, "the TSA did not grant the timestamp (status %ld)", status);
    goto out;
  }
  int nid = OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(tst))->algorithm);
  if (nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512) {
    snprintf(why, why_cap, "the timestamp imprint uses %s, not SHA-256/384/512", OBJ_nid2sn(nid));
    goto out;
  }
  if (nonce) {
    const ASN1_INTEGER *tn = TS_TST_INFO_get_nonce(tst);
    BIGNUM *a = tn ? ASN1_INTEGER_to_BN(tn, NULL) : NULL, *b = BN_bin2bn(nonce, 8, NULL);
    bool same = a && b && BN_cmp(a, b) == 0;
    BN_free(a);
    BN_free(b);
    if (!same) {
      snprintf(why, why_cap, "the TSA's reply does not echo our nonce (a replayed or foreign token)");
      goto out;
    }
  }
  X509_STORE *store = load_anchor(anchor_pem, anchor_len);
  if (!store) {
    snprintf(why, why_cap, "no certificate in the TSA trust anchor");
    goto out;
  }
  vc = TS_VERIFY_CTX_new();
  if (!vc) {
    X509_STORE_free(store);
    st = KP_ERR_NOMEM;
    goto out;
  }
  TS_VERIFY_CTX_set_flags(vc, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
  TS_VERIFY_CTX_set_store(vc, store);
  TS_VERIFY_CTX_set_data(vc, BIO_new_mem_buf(data, (int)n));
  if (TS_RESP_verify_response(vc, resp) != 1) {
    ossl_why(why, why_cap, "the timestamp does not verify (altered manifest, altered token or another TSA)");
    goto out;
  }
  struct tm tm;
  const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(tst);
  if (gt && ASN1_TIME_to_tm(gt, &tm) == 1) {
    strftime(info->time, sizeof info->time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info->unix_time = (int64_t)timegm(&tm);
  }
  GENERAL_NAME *gn = TS_TST_INFO_get_tsa(tst);
  snprintf(info->tsa, sizeof info->tsa, "%s", "an unnamed TSA");
  if (gn && gn->type == GEN_DIRNAME) X509_NAME_oneline(gn->d.dirn, info->tsa, (int)sizeof info->tsa);
  st = KP_OK;
out:
  TS_VERIFY_CTX_free(vc);
  TS_RESP_free(resp);
  return st;
}
