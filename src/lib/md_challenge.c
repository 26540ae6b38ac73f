/* md_challenge.c: answering ACME challenges -- choosing a type per authorization, http-01 and
 * tls-alpn-01 (RFC 8737) answers in challenges/<domain>/, dns-01 through the operator's command. */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_challenge.h"
#include "md_cmd.h"
#include "md_crypt_int.h"
#include "md_log.h"
#include "md_util.h"

#define MD_WILDCARD_PREFIX "*."
#define MD_SHA256_LEN 32
/* id-pe-acmeIdentifier (RFC 8737 6.1). */
#define MD_OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"
/* The validation certificate is only looked at while the CA validates; a week covers slow
 * validations and retries. Backdated a little for validators with a slow clock. */
#define MD_TLSALPN01_VALID_SEC (7L * 24 * 60 * 60)
#define MD_TLSALPN01_BACKDATE_SEC (60L * 60)
/* X.520 upper bound of a commonName (RFC 5280 appendix A: ub-common-name). */
#define MD_CN_MAX_LEN 64
/* Serial numbers: 128 random bits (CA/B BR want at least 64). */
#define MD_SERIAL_BYTES 16
/* A dns-01 command may wait for DNS propagation; one that runs longer than this is stuck. */
#define MD_DNS01_CMD_TIMEOUT apr_time_from_sec(300)

static const md_pkey_spec_t tlsalpn01_key_spec = {MD_PKEY_EC, 0, "secp256r1"};

/* Default preference: tls-alpn-01 needs nothing but the TLS port, http-01 the plain one. */
static const char *const default_types[] = {MD_CHALL_TLSALPN01, MD_CHALL_HTTP01, MD_CHALL_DNS01};
#define DEFAULT_TYPES_COUNT (sizeof(default_types) / sizeof(default_types[0]))

/* ---- choosing ---- */

static int type_possible(const char *type, const md_chall_env_t *env)
{
    if (!strcasecmp(type, MD_CHALL_HTTP01)) {
        return env->http01_possible;
    }
    if (!strcasecmp(type, MD_CHALL_TLSALPN01)) {
        return env->tlsalpn01_possible;
    }
    if (!strcasecmp(type, MD_CHALL_DNS01)) {
        return env->dns01_cmd && *env->dns01_cmd;
    }
    if (!strcasecmp(type, MD_CHALL_DNSPERSIST01)) {
        /* nothing to run here, but only for an operator who publishes the record: the type
         * is never among the defaults, it must be named in MDCAChallenges */
        return env->allowed && md_array_str_index(env->allowed, type, 0) >= 0;
    }
    return 0;
}

/* Types that prove control of a whole zone, as a wildcard name needs (RFC 8555 7.1.3). */
static int type_dns(const char *type)
{
    return !strcasecmp(type, MD_CHALL_DNS01) || !strcasecmp(type, MD_CHALL_DNSPERSIST01);
}

static int type_allowed(const char *type, const md_chall_env_t *env)
{
    return !env->allowed || env->allowed->nelts == 0 ||
           md_array_str_index(env->allowed, type, 0) >= 0;
}

static const md_acme_chall_t *chall_offered(const md_acme_authz_t *authz, const char *type)
{
    for (int i = 0; authz->challenges && i < authz->challenges->nelts; ++i) {
        const md_acme_chall_t *c = APR_ARRAY_IDX(authz->challenges, i, const md_acme_chall_t *);
        if (!strcasecmp(c->type, type)) {
            return c;
        }
    }
    return NULL;
}

/* The types to try, in order of preference. */
static apr_array_header_t *candidates(const md_chall_env_t *env, apr_pool_t *p)
{
    apr_array_header_t *types;

    if (env->allowed && env->allowed->nelts > 0) {
        return md_array_str_copy(p, env->allowed);
    }
    types = apr_array_make(p, DEFAULT_TYPES_COUNT, sizeof(const char *));
    for (apr_size_t i = 0; i < DEFAULT_TYPES_COUNT; ++i) {
        APR_ARRAY_PUSH(types, const char *) = default_types[i];
    }
    return types;
}

/* Whether type can prove control of name at all: only a DNS record proves a whole zone
 * (RFC 8555 7.1.3), and an address only a connection to it (RFC 8738 7: http-01, tls-alpn-01;
 * no DNS-based type, whatever comes). */
static int type_proves(const char *type, const char *name)
{
    if (md_dns_is_wildcard(name)) {
        return type_dns(type);
    }
    if (md_ip_is_addr(name)) {
        return !strcasecmp(type, MD_CHALL_HTTP01) || !strcasecmp(type, MD_CHALL_TLSALPN01);
    }
    return 1;
}

/* What the operator can change so that a type fits. */
static const char *choose_hint(int wildcard, int ip, const md_chall_env_t *env)
{
    if (ip) {
        return "IP addresses are validated by http-01 or tls-alpn-01 only (RFC 8738): let the "
               "CA reach this server on port 80 or with acme-tls/1 on port 443, and allow one "
               "of them in MDCAChallenges";
    }
    if (wildcard) {
        if (type_possible(MD_CHALL_DNSPERSIST01, env)) {
            return "wildcard names need dns-01 or dns-persist-01, which the CA does not offer "
                   "here";
        }
        if (!type_possible(MD_CHALL_DNS01, env)) {
            return "wildcard names need dns-01 (configure MDChallengeDns01) or dns-persist-01 "
                   "(add it to MDCAChallenges and publish its record)";
        }
        if (!type_allowed(MD_CHALL_DNS01, env)) {
            return "wildcard names need dns-01 or dns-persist-01: add one to MDCAChallenges";
        }
        return "wildcard names need dns-01, which the CA does not offer here";
    }
    if (!type_possible(MD_CHALL_HTTP01, env) && !type_possible(MD_CHALL_TLSALPN01, env) &&
        !type_possible(MD_CHALL_DNS01, env)) {
        return "let the CA reach this server on port 80 (http-01) or with acme-tls/1 on port "
               "443 (tls-alpn-01), or configure MDChallengeDns01";
    }
    if (env->allowed && env->allowed->nelts > 0) {
        return "MDCAChallenges excludes the types that are possible";
    }
    return "none of the possible types is offered by the CA";
}

apr_status_t md_chall_types_check(const char **perr, const apr_array_header_t *names,
                                  const apr_array_header_t *allowed, apr_pool_t *p)
{
    const char *ip = NULL;

    *perr = NULL;
    for (int i = 0; !ip && names && i < names->nelts; ++i) {
        if (md_ip_is_addr(APR_ARRAY_IDX(names, i, const char *))) {
            ip = APR_ARRAY_IDX(names, i, const char *);
        }
    }
    if (!ip || !allowed || allowed->nelts == 0 ||
        md_array_str_index(allowed, MD_CHALL_HTTP01, 0) >= 0 ||
        md_array_str_index(allowed, MD_CHALL_TLSALPN01, 0) >= 0) {
        return APR_SUCCESS;
    }
    *perr = apr_psprintf(p,
                         "the IP address %s can only be validated by http-01 or tls-alpn-01 "
                         "(RFC 8738), but MDCAChallenges allows only %s: add http-01 or "
                         "tls-alpn-01 to it, or give the address an MD of its own",
                         ip, md_array_str_join(allowed, ", ", p));
    return APR_EINVAL;
}

apr_status_t md_chall_choose(const md_acme_chall_t **pchall, const md_acme_authz_t *authz,
                             const md_chall_env_t *env, apr_pool_t *p)
{
    int wildcard = md_dns_is_wildcard(authz->domain);
    apr_array_header_t *types = candidates(env, p), *offered, *possible;
    const md_acme_chall_t *chall;
    const char *type, *allowed = "";

    *pchall = NULL;
    for (int i = 0; i < types->nelts; ++i) {
        type = APR_ARRAY_IDX(types, i, const char *);
        if (!type_proves(type, authz->domain)) {
            continue;
        }
        if (type_possible(type, env) && (chall = chall_offered(authz, type)) != NULL) {
            *pchall = chall;
            return APR_SUCCESS;
        }
    }

    offered = apr_array_make(p, 4, sizeof(const char *));
    for (int i = 0; authz->challenges && i < authz->challenges->nelts; ++i) {
        APR_ARRAY_PUSH(offered, const char *) =
            APR_ARRAY_IDX(authz->challenges, i, const md_acme_chall_t *)->type;
    }
    possible = apr_array_make(p, DEFAULT_TYPES_COUNT + 1, sizeof(const char *));
    for (apr_size_t i = 0; i <= DEFAULT_TYPES_COUNT; ++i) {
        type = i < DEFAULT_TYPES_COUNT ? default_types[i] : MD_CHALL_DNSPERSIST01;
        if (type_possible(type, env) && type_proves(type, authz->domain)) {
            APR_ARRAY_PUSH(possible, const char *) = type;
        }
    }
    if (env->allowed && env->allowed->nelts > 0) {
        allowed = apr_psprintf(p, ", allowed [%s]", md_array_str_join(env->allowed, ", ", p));
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL,
                  "no challenge type fits for %s: the CA offers [%s], possible here [%s]%s; %s",
                  authz->domain, md_array_str_join(offered, ", ", p),
                  md_array_str_join(possible, ", ", p), allowed,
                  choose_hint(wildcard, md_ip_is_addr(authz->domain), env));
    return APR_ENOTIMPL;
}

/* ---- tls-alpn-01 ---- */

static int serial_set_random(X509 *x509)
{
    unsigned char buf[MD_SERIAL_BYTES];
    BIGNUM *bn;
    int ok;

    if (md_crypt_random(buf, sizeof(buf)) != APR_SUCCESS) {
        return 0;
    }
    buf[0] &= 0x7f; /* DER INTEGER: top bit clear keeps it positive */
    buf[0] |= 0x01; /* and never zero */
    bn = BN_bin2bn(buf, sizeof(buf), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) != NULL;
    BN_free(bn);
    return ok;
}

/* The critical acmeIdentifier extension: its extnValue is the DER of an OCTET STRING holding
 * SHA-256(keyauthz) (RFC 8737 3). */
static int add_acme_identifier(X509 *x509, const char *keyauthz)
{
    unsigned char digest[MD_SHA256_LEN], *der = NULL;
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(MD_OID_ACME_IDENTIFIER, 1);
    X509_EXTENSION *ext = NULL;
    int len = 0, ok;

    ok = inner && value && oid &&
         md_crypt_sha256(digest, keyauthz, strlen(keyauthz)) == APR_SUCCESS &&
         ASN1_OCTET_STRING_set(inner, digest, sizeof(digest)) &&
         (len = i2d_ASN1_OCTET_STRING(inner, &der)) > 0 && ASN1_OCTET_STRING_set(value, der, len) &&
         (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value)) != NULL &&
         X509_add_ext(x509, ext, -1);
    X509_EXTENSION_free(ext);
    OPENSSL_free(der);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    ASN1_OCTET_STRING_free(inner);
    return ok;
}

/* subjectAltName with the one name the CA validates: a dNSName (RFC 8737 3), or the
 * iPAddress of an address (RFC 8738 6). */
static int add_san(X509 *x509, const char *domain, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    GENERAL_NAMES *gens;
    int ok;

    APR_ARRAY_PUSH(names, const char *) = domain;
    gens = md_cert_san_make(names);
    ok = gens && X509_add1_ext_i2d(x509, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

apr_status_t md_chall_tlsalpn01_cert(md_cert_t **pcert, const char *domain, const char *keyauthz,
                                     const md_pkey_t *key, apr_pool_t *p)
{
    EVP_PKEY *evp = md_pkey_evp(key);
    X509 *x509 = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok;

    *pcert = NULL;
    ok = x509 && name && X509_set_version(x509, X509_VERSION_3) && serial_set_random(x509);
    if (ok && strlen(domain) <= MD_CN_MAX_LEN) {
        ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) domain,
                                        -1, -1, 0);
    }
    ok = ok && X509_set_subject_name(x509, name) && X509_set_issuer_name(x509, name) &&
         X509_gmtime_adj(X509_getm_notBefore(x509), -MD_TLSALPN01_BACKDATE_SEC) &&
         X509_gmtime_adj(X509_getm_notAfter(x509), MD_TLSALPN01_VALID_SEC) &&
         X509_set_pubkey(x509, evp) && add_san(x509, domain, p) &&
         add_acme_identifier(x509, keyauthz) && X509_sign(x509, evp, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                      "creating the tls-alpn-01 certificate for %s failed: %s", domain,
                      md_crypt_last_error(p));
        X509_free(x509);
        return APR_EGENERAL;
    }
    *pcert = md_cert_wrap(x509, p);
    return APR_SUCCESS;
}

static apr_status_t tlsalpn01_setup(md_store_t *store, const char *domain, const char *keyauthz,
                                    apr_pool_t *p)
{
    apr_array_header_t *chain = apr_array_make(p, 1, sizeof(md_cert_t *));
    md_pkey_t *key;
    md_cert_t *cert;
    apr_status_t rv;

    if ((rv = md_pkey_gen(&key, &tlsalpn01_key_spec, p)) != APR_SUCCESS ||
        (rv = md_chall_tlsalpn01_cert(&cert, domain, keyauthz, key, p)) != APR_SUCCESS) {
        return rv;
    }
    APR_ARRAY_PUSH(chain, md_cert_t *) = cert;
    /* Key first: a handshake that picks up the new certificate finds its key. */
    if ((rv = md_store_save_pkey(store, MD_SG_CHALLENGES, domain, MD_FN_TLSALPN01_KEY, key, p)) ==
        APR_SUCCESS) {
        rv = md_store_save_chain(store, MD_SG_CHALLENGES, domain, MD_FN_TLSALPN01_CERT, chain, p);
    }
    return rv;
}

/* ---- dns-01 ---- */

/* Runs MDChallengeDns01's program with args (a NULL-terminated list). */
static apr_status_t dns01_run(const char *cmd, const char *const *args,
                              volatile apr_uint32_t *cancel, apr_pool_t *p)
{
    md_cmd_opts_t opts = {"dns-01: MDChallengeDns01", MD_DNS01_CMD_TIMEOUT, cancel, 1, NULL};
    apr_array_header_t *argv = apr_array_make(p, 4, sizeof(const char *));

    for (; *args; ++args) {
        APR_ARRAY_PUSH(argv, const char *) = *args;
    }
    return md_cmd_run(cmd, argv, &opts, p);
}

/* ---- setup, teardown, answers ---- */

/* The name whose challenges/ entry and DNS record an authorization uses. */
static const char *chall_domain(const md_acme_authz_t *authz)
{
    return md_dns_is_wildcard(authz->domain) ? authz->domain + strlen(MD_WILDCARD_PREFIX)
                                             : authz->domain;
}

/* The dns-01 TXT value: base64url(SHA-256(key authorization)) (RFC 8555 8.4). */
static apr_status_t dns01_txt(const char **ptxt, const char *keyauthz, apr_pool_t *p)
{
    unsigned char digest[MD_SHA256_LEN];
    apr_status_t rv = md_crypt_sha256(digest, keyauthz, strlen(keyauthz));

    *ptxt = rv == APR_SUCCESS ? md_base64url_encode(digest, sizeof(digest), p) : NULL;
    return rv;
}

apr_status_t md_chall_setup(md_store_t *store, md_acme_t *acme, const md_acme_authz_t *authz,
                            const md_acme_chall_t *chall, const md_chall_env_t *env, apr_pool_t *p)
{
    const char *domain = chall_domain(authz), *keyauthz, *args[4];
    apr_status_t rv;

    if (!strcmp(chall->type, MD_CHALL_DNSPERSIST01)) {
        return APR_SUCCESS; /* the operator's standing record answers */
    }
    if (!md_base64url_is_token(chall->token)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "%s challenge for %s: the token is not base64url", chall->type,
                      authz->domain);
        return APR_EINVAL;
    }
    if ((rv = md_acme_key_authz(&keyauthz, acme, chall->token, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(chall->type, MD_CHALL_HTTP01)) {
        rv = md_store_save_text(store, MD_SG_CHALLENGES, domain, MD_FN_HTTP01, keyauthz, p);
    } else if (!strcmp(chall->type, MD_CHALL_TLSALPN01)) {
        rv = tlsalpn01_setup(store, domain, keyauthz, p);
    } else if (!strcmp(chall->type, MD_CHALL_DNS01) && env->dns01_cmd && *env->dns01_cmd) {
        if ((rv = dns01_txt(&args[2], keyauthz, p)) == APR_SUCCESS) {
            args[0] = "setup";
            args[1] = domain;
            args[3] = NULL;
            rv = dns01_run(env->dns01_cmd, args, env->cancel, p);
        }
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL, "%s: cannot set up a %s challenge",
                      authz->domain, chall->type);
        return APR_ENOTIMPL;
    }
    return rv; /* a failure is logged where its reason is known (store, command, OpenSSL) */
}

apr_status_t md_chall_teardown(md_store_t *store, md_acme_t *acme, const md_acme_authz_t *authz,
                               const md_acme_chall_t *chall, const md_chall_env_t *env,
                               apr_pool_t *p)
{
    const char *domain = chall_domain(authz), *args[4], *keyauthz;
    apr_status_t rv;

    if (!strcmp(chall->type, MD_CHALL_DNSPERSIST01)) {
        return APR_SUCCESS; /* the record stays: it serves the next renewal */
    }
    if (!strcmp(chall->type, MD_CHALL_HTTP01)) {
        return md_store_remove(store, MD_SG_CHALLENGES, domain, MD_FN_HTTP01, p);
    }
    if (!strcmp(chall->type, MD_CHALL_TLSALPN01)) {
        rv = md_store_remove(store, MD_SG_CHALLENGES, domain, MD_FN_TLSALPN01_CERT, p);
        if (rv == APR_SUCCESS) {
            rv = md_store_remove(store, MD_SG_CHALLENGES, domain, MD_FN_TLSALPN01_KEY, p);
        }
        return rv;
    }
    if (!strcmp(chall->type, MD_CHALL_DNS01) && env->dns01_cmd && *env->dns01_cmd) {
        args[0] = "teardown";
        args[1] = domain;
        args[2] = NULL;
        if (env->dns01_version >= 2 &&
            ((rv = md_acme_key_authz(&keyauthz, acme, chall->token, p)) != APR_SUCCESS ||
             (rv = dns01_txt(&args[2], keyauthz, p)) != APR_SUCCESS)) {
            return rv;
        }
        args[3] = NULL;
        return dns01_run(env->dns01_cmd, args, env->cancel, p);
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL, "%s: cannot tear down a %s challenge",
                  authz->domain, chall->type);
    return APR_ENOTIMPL;
}

apr_status_t md_chall_http01_answer(const char **pkeyauthz, md_store_t *store, const char *domain,
                                    const char *token, apr_pool_t *p)
{
    const char *name, *perr, *text;
    apr_size_t tlen;
    apr_status_t rv;

    *pkeyauthz = NULL;
    /* Both come from a request: check them before they become part of a path. */
    if (!md_base64url_is_token(token) ||
        md_dns_name_check(&name, &perr, domain, p) != APR_SUCCESS || md_dns_is_wildcard(name)) {
        return APR_EINVAL;
    }
    rv = md_store_load_text(&text, store, MD_SG_CHALLENGES, name, MD_FN_HTTP01, p);
    if (APR_STATUS_IS_ENOTDIR(rv)) {
        rv = APR_ENOENT;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    tlen = strlen(token);
    if (strncmp(text, token, tlen) || text[tlen] != '.') {
        return APR_ENOENT;
    }
    *pkeyauthz = text;
    return APR_SUCCESS;
}
