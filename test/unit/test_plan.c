/* test_plan.c: unit tests of the one decision of what comes next for an MD (md_plan_next) and
 * of publishing a staged set as live (md_store_publish). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/x509v3.h>

#include "md_ari.h"
#include "md_drive.h"
#include "md_plan.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_store.h"

#define DAY apr_time_from_sec(86400)
#define HOUR apr_time_from_sec(3600)

typedef struct {
    apr_pool_t *pool;
    char base[UNIT_DIR_LEN];
    md_store_t *store;
    md_reg_t *reg;
    md_t *md;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(unit_tmp_open(&f->pool, f->base), 0);
    unit_reg_open(&f->store, &f->reg, f->base, f->pool);
    f->md = unit_md_make(f->pool, "example.org", "www.example.org", NULL);
    APR_ARRAY_PUSH(f->md->pkey_specs, const md_pkey_spec_t *) = &unit_spec_p256;
    assert_int_equal(md_reg_add(f->reg, f->md, f->pool), APR_SUCCESS);
    unit_log_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(unit_tmp_close(f->pool, f->base), 0);
    free(f);
    return 0;
}

/* A key and a chain for names, valid for valid_for, saved in group; a staged one gets a job
 * that says when it was staged. */
static void put_set(fixture_t *f, md_store_group_t group, const apr_array_header_t *names,
                    apr_interval_time_t valid_for, apr_time_t staged_at)
{
    md_json_t *job = md_json_new_obj(f->pool);
    md_pkey_t *key;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    unit_save_key_chain(
        f->store, group, f->md->name, key,
        unit_chain(key, APR_ARRAY_IDX(names, 0, const char *), names, valid_for, f->pool), f->pool);
    if (staged_at) {
        md_json_set_str(job, "step", "staged");
        md_json_set_str(job, "staged-at", md_time_format(staged_at, f->pool));
        assert_int_equal(md_store_save_json(f->store, group, f->md->name, MD_FN_JOB, job, f->pool),
                         APR_SUCCESS);
    }
}

static void test_nothing_anywhere_drives_now(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_t plan;

    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at <= now);
    assert_null(plan.refused);
    assert_int_equal(plan.current, MD_SG_DOMAINS);
}

static void test_staged_set_installs_after_its_activation_delay(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_opts_t opts = {HOUR, 0, NULL, 0};
    md_plan_t plan;

    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now - apr_time_from_sec(60));
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_INSTALL);
    assert_int_equal(plan.from, MD_SG_STAGING);
    /* staged a minute ago, an hour of delay: it waits, and says until when */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &opts, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_ACTIVATE);
    assert_true(plan.at > now + HOUR - apr_time_from_sec(120) && plan.at <= now + HOUR);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &opts, now + HOUR, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_INSTALL);
}

static void test_staged_set_that_lost_a_name_is_refused_and_driven_again(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *more = apr_array_copy(f->pool, f->md->domains);
    apr_time_t now = apr_time_now();
    md_plan_t plan;

    /* staged when the MD had a third name; the operator removed it since */
    APR_ARRAY_PUSH(more, const char *) = "old.example.org";
    put_set(f, MD_SG_STAGING, more, 90 * DAY, now);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at <= now);
    assert_non_null(plan.refused);
    assert_non_null(strstr(plan.refused, "old.example.org"));
    /* installation refuses it with the same test */
    assert_int_equal(md_drive_install(f->reg, f->md->name, 0, f->pool), APR_EINVAL);
    assert_false(md_store_exists(f->store, MD_SG_DOMAINS, f->md->name, UNIT_CERT_FILE, f->pool));
}

static void
test_staged_set_that_lost_a_name_is_driven_again_while_the_installed_one_serves(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *more = apr_array_copy(f->pool, f->md->domains);
    apr_time_t now = apr_time_now();
    md_plan_t plan;

    /* domains/ has a fresh certificate for all names, so its renew window is far away */
    put_set(f, MD_SG_DOMAINS, f->md->domains, 90 * DAY, 0);
    APR_ARRAY_PUSH(more, const char *) = "old.example.org";
    put_set(f, MD_SG_STAGING, more, 90 * DAY, now);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_non_null(plan.refused);
    assert_true(plan.at <= now);
}

static void test_staged_set_of_another_key_type_is_driven_again(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_t plan;

    put_set(f, MD_SG_DOMAINS, f->md->domains, 90 * DAY, 0);
    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now);
    /* the operator switched the MD to P-384 since */
    apr_array_clear(f->md->pkey_specs);
    APR_ARRAY_PUSH(f->md->pkey_specs, const md_pkey_spec_t *) = &unit_spec_p384;
    assert_int_equal(md_reg_update(f->reg, f->md->name, f->md, f->pool), APR_SUCCESS);
    /* neither set has a P-384 certificate: neither is installed, the MD is driven at once */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at <= now);
    assert_int_equal(md_drive_install(f->reg, f->md->name, 0, f->pool), APR_ENOENT);
}

static void test_a_refused_staged_set_still_waits_for_the_next_try(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *more = apr_array_copy(f->pool, f->md->domains);
    apr_time_t now = apr_time_now();
    md_json_t *job;
    md_plan_t plan;

    APR_ARRAY_PUSH(more, const char *) = "old.example.org";
    put_set(f, MD_SG_STAGING, more, 90 * DAY, now);
    job = md_json_new_obj(f->pool);
    md_json_set_str(job, "next-try", md_time_format(now + HOUR, f->pool));
    assert_int_equal(
        md_store_save_json(f->store, MD_SG_STAGING, f->md->name, MD_FN_JOB, job, f->pool),
        APR_SUCCESS);
    /* a drive that failed after the set was refused: no loop against the CA */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_non_null(plan.refused);
    assert_true(plan.at > now + HOUR - apr_time_from_sec(2));
}

/* A job that failed for a profile (MDProfileMandatory) waits for its next try; once the
 * operator configures another profile, that wait no longer holds. */
static void test_a_changed_profile_does_not_wait_for_the_next_try(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_json_t *job = md_json_new_obj(f->pool);
    md_plan_t plan;

    md_json_set_str(job, "profile", "tlsserver");
    md_json_set_str(job, "next-try", md_time_format(now + HOUR, f->pool));
    assert_int_equal(
        md_store_save_json(f->store, MD_SG_STAGING, f->md->name, MD_FN_JOB, job, f->pool),
        APR_SUCCESS);
    f->md->profile = "tlsserver";
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(plan.at > now + HOUR - apr_time_from_sec(2));
    f->md->profile = "shortlived";
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at <= now);
    f->md->profile = NULL;
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(plan.at <= now);
}

static void test_live_set_is_installed_while_a_newer_staged_one_waits(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_opts_t delayed = {HOUR, 0, NULL, 0}, presented = {HOUR, 1, NULL, 0};
    md_plan_t plan;

    put_set(f, MD_SG_DOMAINS, f->md->domains, 90 * DAY, 0);
    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now);
    assert_int_equal(md_store_publish(f->store, f->md->name, f->pool), APR_SUCCESS);
    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now);
    /* at a restart (nothing presented yet) the live set goes into domains/ first ... */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &delayed, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_INSTALL);
    assert_int_equal(plan.from, MD_SG_LIVE);
    assert_int_equal(md_drive_install(f->reg, f->md->name, HOUR, f->pool), APR_SUCCESS);
    assert_false(md_store_exists(f->store, MD_SG_LIVE, f->md->name, NULL, f->pool));
    /* ... and the staged one still waits for its activation */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &delayed, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_ACTIVATE);
    assert_true(md_store_exists(f->store, MD_SG_STAGING, f->md->name, UNIT_CERT_FILE, f->pool));
    /* workers that present a live set only wait for the staged one */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &presented, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_ACTIVATE);
}

static void test_certificates_due_when_issued_renew_once_per_check_interval(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_opts_t checked = {0, 0, NULL, 2 * DAY};
    const char *err;
    md_plan_t plan;

    /* a window longer than the lifetime: due from the moment of issuance (a day ago here) */
    assert_int_equal(md_timeslice_parse(&f->md->renew_window, "2000d", &err, f->pool), APR_SUCCESS);
    assert_int_equal(md_reg_update(f->reg, f->md->name, f->md, f->pool), APR_SUCCESS);
    put_set(f, MD_SG_DOMAINS, f->md->domains, 90 * DAY, 0);
    /* without a check interval (a2md): at once, every time */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at <= now);
    /* the module: once per MDCheckInterval from issuance, and it says why */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &checked, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.always_due);
    assert_true(plan.at > now + DAY - apr_time_from_sec(60) && plan.at <= now + DAY);
    /* an ordinary window is not touched by it */
    assert_int_equal(md_timeslice_parse(&f->md->renew_window, "33%", &err, f->pool), APR_SUCCESS);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &checked, now, f->pool), APR_SUCCESS);
    assert_false(plan.always_due);
    assert_true(plan.at > now + 30 * DAY);
}

static void test_published_set_is_live_then_decides_the_renewal(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_opts_t presented = {0, 1, NULL, 0};
    md_plan_t plan;

    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now);
    assert_int_equal(md_store_publish(f->store, f->md->name, f->pool), APR_SUCCESS);
    assert_false(md_store_exists(f->store, MD_SG_STAGING, f->md->name, NULL, f->pool));
    assert_true(md_store_exists(f->store, MD_SG_LIVE, f->md->name, UNIT_CERT_FILE, f->pool));
    /* not presented yet (the parent at startup, a new driver): it is to be installed */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_INSTALL);
    assert_int_equal(plan.from, MD_SG_LIVE);
    /* presented: the live set is the one in use, renewed in its own window */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &presented, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_int_equal(plan.current, MD_SG_LIVE);
    assert_true(plan.at > now + 30 * DAY);
    assert_int_equal(plan.at, plan.renew_at);
}

static void test_publish_replaces_the_live_set_and_install_takes_it(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *infos;
    apr_time_t now = apr_time_now();
    const char *first, *second;

    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now);
    assert_int_equal(md_store_publish(f->store, f->md->name, f->pool), APR_SUCCESS);
    md_reg_cert_infos(&infos, f->reg, f->md, MD_SG_LIVE, now, f->pool);
    first = APR_ARRAY_IDX(infos, 0, md_cert_info_t *)->fingerprint;
    put_set(f, MD_SG_STAGING, f->md->domains, 90 * DAY, now);
    assert_int_equal(md_store_publish(f->store, f->md->name, f->pool), APR_SUCCESS);
    md_reg_cert_infos(&infos, f->reg, f->md, MD_SG_LIVE, now, f->pool);
    second = APR_ARRAY_IDX(infos, 0, md_cert_info_t *)->fingerprint;
    assert_string_not_equal(first, second);
    /* only the one live set, nothing hidden left behind */
    assert_int_equal(md_store_publish(f->store, f->md->name, f->pool), APR_ENOENT);
    assert_int_equal(md_drive_install(f->reg, f->md->name, 0, f->pool), APR_SUCCESS);
    assert_false(md_store_exists(f->store, MD_SG_LIVE, f->md->name, NULL, f->pool));
    md_reg_cert_infos(&infos, f->reg, f->md, MD_SG_DOMAINS, now, f->pool);
    assert_string_equal(APR_ARRAY_IDX(infos, 0, md_cert_info_t *)->fingerprint, second);
}

/* A set in domains/ whose certificate has an Authority Key Identifier, as a CA's has: its ARI
 * id goes to *pid. */
static void put_ari_set(fixture_t *f, apr_interval_time_t valid_for, const char **pid)
{
    static const unsigned char keyid[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    apr_array_header_t *chain;
    md_pkey_t *key;
    X509 *x;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    chain = unit_chain(key, f->md->name, f->md->domains, valid_for, f->pool);
    x = md_cert_x509(APR_ARRAY_IDX(chain, 0, md_cert_t *));
    akid->keyid = ASN1_OCTET_STRING_new();
    assert_int_equal(ASN1_OCTET_STRING_set(akid->keyid, keyid, sizeof(keyid)), 1);
    assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
    AUTHORITY_KEYID_free(akid);
    assert_true(X509_sign(x, md_pkey_evp(key), EVP_sha256()) > 0);
    unit_save_key_chain(f->store, MD_SG_DOMAINS, f->md->name, key, chain, f->pool);
    assert_int_equal(md_cert_ari_id(pid, APR_ARRAY_IDX(chain, 0, md_cert_t *), f->pool),
                     APR_SUCCESS);
}

/* The ARI state of the MD: the CA's window [start, end) for certificate id, asked at now. */
static apr_time_t put_ari_window(fixture_t *f, const char *id, apr_time_t start, apr_time_t end,
                                 apr_time_t now)
{
    md_ari_state_t st = {"https://ca.example/dir", NULL};
    md_ari_cert_t *c = apr_pcalloc(f->pool, sizeof(*c));

    c->key = md_pkey_spec_name(&unit_spec_p256, f->pool);
    c->cert_id = id;
    md_ari_answered(c, start, end, NULL, HOUR, 0, now, 0x9e3779b9u, f->pool);
    st.certs = apr_array_make(f->pool, 1, sizeof(md_ari_cert_t *));
    APR_ARRAY_PUSH(st.certs, md_ari_cert_t *) = c;
    assert_int_equal(md_ari_save(&st, f->store, f->md->name, f->pool), APR_SUCCESS);
    return c->renew_at;
}

static void test_ari_window_before_the_renew_window_decides(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now(), at;
    const char *id;
    md_plan_t plan;

    put_ari_set(f, 90 * DAY, &id);
    at = put_ari_window(f, id, now + 10 * DAY, now + 11 * DAY, now);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    /* ari.json keeps whole seconds */
    assert_true(apr_time_sec(plan.at) == apr_time_sec(at));
    assert_true(plan.at >= now + 10 * DAY - apr_time_from_sec(1) && plan.at < now + 11 * DAY);
    assert_true(plan.ari_at == plan.at);
    assert_true(apr_time_sec(plan.ari_check_at) == apr_time_sec(now + HOUR));
    assert_non_null(strstr(plan.why, "ARI"));
    /* a window after our own renew window (33% of 90 days before the end): ours comes first */
    put_ari_window(f, id, now + 80 * DAY, now + 81 * DAY, now);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(plan.at < now + 80 * DAY && plan.at > now + 50 * DAY);
}

static void test_ari_window_in_the_past_renews_now(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_plan_opts_t checked = {0, 0, NULL, HOUR}, slow = {0, 0, NULL, 2 * DAY};
    const char *id;
    md_json_t *j;
    md_plan_t plan;

    put_ari_set(f, 90 * DAY, &id);
    put_ari_window(f, id, now - 2 * DAY, now - DAY, now);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &checked, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at <= now);
    /* the status (a2md list -j, md-status) says so too, and shows the window */
    md_reg_compute_state(f->reg, f->md, now, f->pool);
    assert_int_equal(md_reg_status_json(&j, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(md_json_get_bool(j, "renew", 0));
    assert_string_equal(md_json_get_str(md_json_get(md_json_get(md_json_get(j, "ari", f->pool),
                                                                "certificates", f->pool),
                                                    "secp256r1", f->pool),
                                        "cert-id"),
                        id);
    f->md->ari_renewals = 0;
    assert_int_equal(md_reg_status_json(&j, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_false(md_json_get_bool(j, "renew", 1));
    assert_false(md_json_has(j, "ari"));
    f->md->ari_renewals = 1;
    /* not within MDCheckInterval of the issuance (a day ago): a CA that puts every window in
     * the past must not have us renew in a loop */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, &slow, now, f->pool), APR_SUCCESS);
    assert_true(plan.at > now + DAY - apr_time_from_sec(60) && plan.at <= now + DAY);
}

static void test_ari_state_of_another_certificate_or_ari_off_is_ignored(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    const char *id;
    md_plan_t plan;

    put_ari_set(f, 90 * DAY, &id);
    put_ari_window(f, "b3RoZXI.AQ", now - 2 * DAY, now - DAY, now);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(plan.at > now + 50 * DAY);
    assert_true(plan.ari_at == 0);
    /* MDRenewViaARI off: MDRenewWindow alone, exactly as without ARI */
    put_ari_window(f, id, now - 2 * DAY, now - DAY, now);
    f->md->ari_renewals = 0;
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(plan.at > now + 50 * DAY);
    assert_true(plan.ari_at == 0 && plan.ari_check_at == 0);
    f->md->ari_renewals = 1;
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_true(plan.at <= now);
}

static void test_failed_ari_asks_leave_the_renew_window_in_charge(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_ari_state_t st = {"https://ca.example/dir", NULL};
    md_ari_cert_t *c = apr_pcalloc(f->pool, sizeof(*c));
    const char *id;
    md_plan_t plan;

    put_ari_set(f, 90 * DAY, &id);
    c->key = md_pkey_spec_name(&unit_spec_p256, f->pool);
    c->cert_id = id;
    md_ari_failed(c, MD_RETRY_TRANSIENT, "HTTP 503", 0, 0, now, 0, f->pool);
    st.certs = apr_array_make(f->pool, 1, sizeof(md_ari_cert_t *));
    APR_ARRAY_PUSH(st.certs, md_ari_cert_t *) = c;
    assert_int_equal(md_ari_save(&st, f->store, f->md->name, f->pool), APR_SUCCESS);
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    /* no window known: MDRenewWindow decides; the driver wakes for the next ask */
    assert_true(plan.at > now + 50 * DAY);
    assert_true(plan.ari_at == 0);
    assert_true(plan.ari_check_at >= now + MD_ARI_POLL_MIN - apr_time_from_sec(1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_anywhere_drives_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged_set_installs_after_its_activation_delay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_staged_set_that_lost_a_name_is_refused_and_driven_again, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_staged_set_that_lost_a_name_is_driven_again_while_the_installed_one_serves, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_staged_set_of_another_key_type_is_driven_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_refused_staged_set_still_waits_for_the_next_try,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_changed_profile_does_not_wait_for_the_next_try,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_set_is_installed_while_a_newer_staged_one_waits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_certificates_due_when_issued_renew_once_per_check_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_published_set_is_live_then_decides_the_renewal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_replaces_the_live_set_and_install_takes_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ari_window_before_the_renew_window_decides, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ari_window_in_the_past_renews_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ari_state_of_another_certificate_or_ari_off_is_ignored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_ari_asks_leave_the_renew_window_in_charge,
                                        setup, teardown),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
