/* md_acme_order_int.h: internals of md_acme_order.c shared with its unit tests -- turning the
 * CA's order and authorization objects (RFC 8555 7.1.3, 7.1.4) into structs. */
#ifndef MD_ACME_ORDER_INT_H
#define MD_ACME_ORDER_INT_H

#include "md_acme.h"

/* An order object found at url. APR_EINVAL (logged, naming url) when it has no status. */
apr_status_t md_acme_order_from_json(md_acme_order_t **porder, const md_json_t *j, const char *url,
                                     apr_pool_t *p);

/* An authorization object found at url. The domain is "*.x" for a wildcard authorization;
 * challenges whose token is not base64url are dropped (warning), and the error of an
 * invalid challenge becomes authz->error. APR_EINVAL (logged, naming url) when it has no
 * status or no dns identifier. */
apr_status_t md_acme_authz_from_json(md_acme_authz_t **pauthz, const md_json_t *j, const char *url,
                                     apr_pool_t *p);

#endif
