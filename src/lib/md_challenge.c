/* md_challenge.c: answering ACME challenges -- choosing a type per authorization, http-01 and
 * tls-alpn-01 (RFC 8737) answers in challenges/<domain>/, dns-01 through the operator's command. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_lib.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_challenge.h"
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
/* How soon a running command notices that the drive is cancelled (as md_drive.c's waits do):
 * the server's stop waits only seconds for a drive (mod_md_drive.c). */
#define MD_DNS01_CANCEL_SLICE apr_time_from_msec(100)
/* Once a command closed its output, how often to look whether it exited. */
#define MD_DNS01_EXIT_POLL apr_time_from_msec(5)
/* The tail of a command's output that goes into messages. */
#define MD_DNS01_OUTPUT_MAX 512
#define MD_DNS01_READ_CHUNK 256
_Static_assert(MD_DNS01_READ_CHUNK <= MD_DNS01_OUTPUT_MAX, "a read fits the output tail");

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
    return 0;
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

/* What the operator can change so that a type fits. */
static const char *choose_hint(int wildcard, const md_chall_env_t *env)
{
    if (wildcard) {
        if (!type_possible(MD_CHALL_DNS01, env)) {
            return "wildcard names need dns-01: configure MDChallengeDns01";
        }
        if (!type_allowed(MD_CHALL_DNS01, env)) {
            return "wildcard names need dns-01: add it to MDCAChallenges";
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
        /* Only a DNS record proves control of a whole zone (RFC 8555 7.1.3). */
        if (wildcard && strcasecmp(type, MD_CHALL_DNS01)) {
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
    possible = apr_array_make(p, DEFAULT_TYPES_COUNT, sizeof(const char *));
    for (apr_size_t i = 0; i < DEFAULT_TYPES_COUNT; ++i) {
        if (type_possible(default_types[i], env) &&
            (!wildcard || !strcmp(default_types[i], MD_CHALL_DNS01))) {
            APR_ARRAY_PUSH(possible, const char *) = default_types[i];
        }
    }
    if (env->allowed && env->allowed->nelts > 0) {
        allowed = apr_psprintf(p, ", allowed [%s]", md_array_str_join(env->allowed, ", ", p));
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL,
                  "no challenge type fits for %s: the CA offers [%s], possible here [%s]%s; %s",
                  authz->domain, md_array_str_join(offered, ", ", p),
                  md_array_str_join(possible, ", ", p), allowed, choose_hint(wildcard, env));
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

/* subjectAltName with the one dNSName the CA validates. */
static int add_san(X509 *x509, const char *domain)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    int ok = gens && gn && ia5 && ASN1_STRING_set(ia5, domain, (int) strlen(domain));

    if (ok) {
        GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        ia5 = NULL;
        ok = sk_GENERAL_NAME_push(gens, gn) > 0;
        if (ok) {
            gn = NULL;
        }
    }
    ok = ok && X509_add1_ext_i2d(x509, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
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
         X509_set_pubkey(x509, evp) && add_san(x509, domain) &&
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

/* Appends data (at most MD_DNS01_OUTPUT_MAX) to the tail buffer out, keeping the latest bytes. */
static void tail_append(char *out, apr_size_t *plen, const char *data, apr_size_t len)
{
    if (*plen + len > MD_DNS01_OUTPUT_MAX) {
        apr_size_t drop = *plen + len - MD_DNS01_OUTPUT_MAX;
        memmove(out, out + drop, *plen - drop);
        *plen -= drop;
    }
    memcpy(out + *plen, data, len);
    *plen += len;
}

/* The output as one line for a message. */
static const char *output_line(const char *out, apr_size_t len, apr_pool_t *p)
{
    char *s = apr_pstrmemdup(p, out, len);

    while (len > 0 && apr_isspace(s[len - 1])) {
        s[--len] = '\0';
    }
    for (char *c = s; *c; ++c) {
        if (*c == '\n' || *c == '\r' || *c == '\t') {
            *c = ' ';
        }
    }
    return *s ? s : "(no output)";
}

static int cancelled(volatile apr_uint32_t *cancel)
{
    return cancel && apr_atomic_read32(cancel);
}

/* Follows the running command: reads its output until it closes it, then waits for its exit.
 * APR_CHILD_DONE when it exited and is reaped (*pcode, *pwhy); APR_TIMEUP at the deadline
 * and APR_EINTR when the drive is cancelled (looked at every MD_DNS01_CANCEL_SLICE): it still
 * runs then; else the failure of waiting for it. Output that cannot be read is not waited for. */
static apr_status_t await_command(apr_proc_t *proc, int *pcode, apr_exit_why_e *pwhy, char *out,
                                  apr_size_t *plen, apr_file_t *rd, apr_time_t deadline,
                                  volatile apr_uint32_t *cancel)
{
    char chunk[MD_DNS01_READ_CHUNK];
    apr_interval_time_t left;
    apr_size_t n;
    apr_status_t rv;
    int eof = 0;

    for (;;) {
        if (cancelled(cancel)) {
            return APR_EINTR;
        }
        if ((left = deadline - apr_time_now()) <= 0) {
            return APR_TIMEUP;
        }
        if (eof) {
            /* the output is closed; the exit follows at once for almost every command */
            if ((rv = apr_proc_wait(proc, pcode, pwhy, APR_NOWAIT)) != APR_CHILD_NOTDONE) {
                return rv;
            }
            apr_sleep(left < MD_DNS01_EXIT_POLL ? left : MD_DNS01_EXIT_POLL);
            continue;
        }
        apr_file_pipe_timeout_set(rd, left < MD_DNS01_CANCEL_SLICE ? left : MD_DNS01_CANCEL_SLICE);
        n = sizeof(chunk);
        rv = apr_file_read(rd, chunk, &n);
        if (n > 0) {
            tail_append(out, plen, chunk, n);
        }
        eof = rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv); /* at its end, or broken */
    }
}

extern char **environ; /* POSIX: declared by the program that uses it */

/* Starts cmd (a path as it is, a bare name looked up in PATH) with argv, its stdout and stderr
 * into one pipe (no deadlock between two of them) whose read end comes back in *prd, stdin
 * /dev/null. It leads a process group of its own, so that a kill reaches what it started too
 * (a script's sleep or curl). The pipe is close-on-exec until it becomes the command's
 * stdout: commands of concurrent drives never hold each other's pipes open. No signal is
 * blocked or ignored in it: httpd blocks them in its threads and ignores SIGPIPE, and an exec
 * keeps both -- a hook's kill or timeout(1) would not end its curl, nor 'cmd | head' end. */
static apr_status_t dns01_spawn(apr_proc_t *proc, apr_file_t **prd, const char *cmd,
                                const char *const *argv, apr_pool_t *p)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *const *args = (char *const *) argv; /* posix_spawn's type; it does not change them */
    int fds[2], err;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    err = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    err = err ? err : posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    err = err ? err : posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    err = err ? err
              : posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF);
    err = err ? err : posix_spawnattr_setpgroup(&attr, 0);
    err = err ? err : posix_spawnattr_setsigmask(&attr, &none);
    err = err ? err : posix_spawnattr_setsigdefault(&attr, &all);
    if (!err) {
        err = strchr(cmd, '/') ? posix_spawn(&pid, cmd, &actions, &attr, args, environ)
                               : posix_spawnp(&pid, cmd, &actions, &attr, args, environ);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]); /* the child has its own copies: EOF comes when it is done */
    if (err) {
        close(fds[0]);
        return APR_FROM_OS_ERROR(err);
    }
    memset(proc, 0, sizeof(*proc));
    proc->pid = pid;
    return apr_os_pipe_put_ex(prd, &fds[0], 1, p); /* closed with p */
}

/* Runs cmd with args (no shell), its stdout and stderr captured, and waits for it. An exit
 * other than 0 is APR_EGENERAL, logged with the command line, the exit and the output. A
 * command still running at MD_DNS01_CMD_TIMEOUT (APR_TIMEUP) or when the drive is cancelled
 * (APR_EINTR; then none is started either) is killed with all it started, and reaped. */
static apr_status_t dns01_run(const char *cmd, const char *const *args,
                              volatile apr_uint32_t *cancel, apr_pool_t *p)
{
    const char *argv[8], *line = cmd;
    char out[MD_DNS01_OUTPUT_MAX];
    apr_size_t out_len = 0;
    apr_file_t *rd = NULL;
    apr_exit_why_e why = APR_PROC_EXIT;
    apr_proc_t proc;
    apr_pool_t *ptemp;
    apr_status_t rv;
    int n = 0, code = 0;

    argv[n++] = cmd;
    for (; *args && n < (int) (sizeof(argv) / sizeof(argv[0])) - 1; ++args) {
        argv[n++] = *args;
        line = apr_pstrcat(p, line, " ", *args, NULL);
    }
    argv[n] = NULL;
    if (cancelled(cancel)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, APR_EINTR,
                      "dns-01: '%s' not run: the drive is cancelled (server stopping)", line);
        return APR_EINTR;
    }

    apr_pool_create(&ptemp, p);
    rv = dns01_spawn(&proc, &rd, cmd, argv, ptemp);
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "dns-01: cannot run '%s'", line);
        apr_pool_destroy(ptemp);
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "dns-01: running '%s' (pid %ld)", line,
                  (long) proc.pid);

    rv = await_command(&proc, &code, &why, out, &out_len, rd, apr_time_now() + MD_DNS01_CMD_TIMEOUT,
                       cancel);
    if (rv == APR_EINTR || APR_STATUS_IS_TIMEUP(rv)) {
        /* with its whole group: not reaped yet, its pid (the group's id) is still ours */
        kill(-proc.pid, SIGKILL);
        apr_proc_wait(&proc, &code, &why, APR_WAIT); /* reaped: no zombie stays behind */
    }
    apr_pool_destroy(ptemp);

    if (rv == APR_EINTR) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, rv,
                      "dns-01: '%s' killed: the drive is cancelled (server stopping): %s", line,
                      output_line(out, out_len, p));
        return APR_EINTR;
    }
    if (APR_STATUS_IS_TIMEUP(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_TIMEUP,
                      "dns-01: '%s' did not finish within %s and was killed: %s", line,
                      md_duration_format(MD_DNS01_CMD_TIMEOUT, p), output_line(out, out_len, p));
        return APR_TIMEUP;
    }
    if (rv != APR_CHILD_DONE) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "dns-01: waiting for '%s' failed", line);
        return rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    if (!APR_PROC_CHECK_EXIT(why) || code != 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "dns-01: '%s' %s %d: %s", line,
                      APR_PROC_CHECK_SIGNALED(why) ? "was killed by signal" : "exited with", code,
                      output_line(out, out_len, p));
        return APR_EGENERAL;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "dns-01: '%s' done: %s", line,
                  output_line(out, out_len, p));
    return APR_SUCCESS;
}

/* ---- setup, teardown, answers ---- */

/* The name whose challenges/ entry and DNS record an authorization uses. */
static const char *chall_domain(const md_acme_authz_t *authz)
{
    return md_dns_is_wildcard(authz->domain) ? authz->domain + strlen(MD_WILDCARD_PREFIX)
                                             : authz->domain;
}

apr_status_t md_chall_setup(md_store_t *store, md_acme_t *acme, const md_acme_authz_t *authz,
                            const md_acme_chall_t *chall, const md_chall_env_t *env, apr_pool_t *p)
{
    const char *domain = chall_domain(authz), *keyauthz, *args[4];
    unsigned char digest[MD_SHA256_LEN];
    apr_status_t rv;

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
        /* The TXT record holds base64url(SHA-256(key authorization)) (RFC 8555 8.4). */
        if ((rv = md_crypt_sha256(digest, keyauthz, strlen(keyauthz))) == APR_SUCCESS) {
            args[0] = "setup";
            args[1] = domain;
            args[2] = md_base64url_encode(digest, sizeof(digest), p);
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

apr_status_t md_chall_teardown(md_store_t *store, const md_acme_authz_t *authz,
                               const md_acme_chall_t *chall, const md_chall_env_t *env,
                               apr_pool_t *p)
{
    const char *domain = chall_domain(authz), *args[3];
    apr_status_t rv;

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
