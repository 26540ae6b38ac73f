/* md_reg.c: the registry of managed domains over a store: checks on add/update (valid
 * names, no domain in two MDs), removal into the archive, and state from certificates. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_thread_mutex.h>

#include "md_reg.h"
#include "md_cert.h"
#include "md_log.h"

/* A failed drive as the process that ran it remembers it (md_reg_failure_note). */
typedef struct {
    apr_time_t next_try;
    int errors;
} md_reg_failure_t;

struct md_reg_t {
    md_store_t *store;
    apr_pool_t *p;
    apr_thread_mutex_t *mutex; /* guards failures: drives of several MDs run in threads */
    apr_hash_t *failures;      /* MD name -> md_reg_failure_t* */
};

apr_status_t md_reg_create(md_reg_t **preg, md_store_t *store, apr_pool_t *p)
{
    md_reg_t *reg = apr_pcalloc(p, sizeof(*reg));
    apr_status_t rv;

    reg->store = store;
    reg->p = p;
    reg->failures = apr_hash_make(p);
    if ((rv = apr_thread_mutex_create(&reg->mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    *preg = reg;
    return APR_SUCCESS;
}

void md_reg_failure_note(md_reg_t *reg, const char *name, apr_time_t next_try, int errors)
{
    md_reg_failure_t *f;

    apr_thread_mutex_lock(reg->mutex);
    f = apr_hash_get(reg->failures, name, APR_HASH_KEY_STRING);
    if (!f && errors > 0) {
        /* one entry per MD name for the registry's life: bounded by the MDs there are */
        f = apr_pcalloc(reg->p, sizeof(*f));
        apr_hash_set(reg->failures, apr_pstrdup(reg->p, name), APR_HASH_KEY_STRING, f);
    }
    if (f) {
        f->next_try = errors > 0 ? next_try : 0;
        f->errors = errors > 0 ? errors : 0;
    }
    apr_thread_mutex_unlock(reg->mutex);
}

int md_reg_failure_get(md_reg_t *reg, const char *name, apr_time_t *pnext_try)
{
    md_reg_failure_t *f;
    int errors = 0;

    *pnext_try = 0;
    apr_thread_mutex_lock(reg->mutex);
    if ((f = apr_hash_get(reg->failures, name, APR_HASH_KEY_STRING)) != NULL) {
        *pnext_try = f->next_try;
        errors = f->errors;
    }
    apr_thread_mutex_unlock(reg->mutex);
    return errors;
}

md_store_t *md_reg_store(md_reg_t *reg)
{
    return reg->store;
}

/* Loads domains/<name>/md.json; a reason in *perr when it cannot be read (not logged). */
static apr_status_t read_md(md_t **pmd, const char **perr, md_reg_t *reg, const char *name,
                            apr_pool_t *p)
{
    md_json_t *j;
    const char *err = NULL;
    apr_status_t rv;

    *perr = NULL;
    rv = md_store_load_json(&j, &err, reg->store, MD_SG_DOMAINS, name, MD_FN_MD, p);
    if (rv == APR_SUCCESS && (rv = md_from_json(pmd, &err, j, p)) != APR_SUCCESS) {
        err = apr_psprintf(p, "%s: %s", md_store_path(reg->store, MD_SG_DOMAINS, name, MD_FN_MD, p),
                           err);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        *perr = err ? err : "cannot read md.json";
    }
    return rv;
}

static apr_status_t load_md(md_t **pmd, md_reg_t *reg, const char *name, apr_pool_t *p)
{
    const char *err;
    apr_status_t rv = read_md(pmd, &err, reg, name, p);

    if (err) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s (the file is left as it is)", err);
    }
    return rv;
}

apr_status_t md_reg_get(md_t **pmd, md_reg_t *reg, const char *name, apr_pool_t *p)
{
    apr_status_t rv = APR_ENOENT;

    if (md_store_path(reg->store, MD_SG_DOMAINS, name, NULL, p)) {
        rv = load_md(pmd, reg, name, p);
    }
    if (APR_STATUS_IS_ENOENT(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "no managed domain named '%s' in %s", name,
                      md_store_dir(reg->store));
        return APR_ENOENT;
    }
    if (rv == APR_SUCCESS) {
        md_reg_compute_state(reg, *pmd, apr_time_now(), p);
    }
    return rv;
}

static int md_cmp_name(const void *a, const void *b)
{
    return strcmp((*(md_t *const *) a)->name, (*(md_t *const *) b)->name);
}

/* All MDs as stored, without computing states (cheap: used for overlap checks). */
static apr_status_t load_all(apr_array_header_t **pmds, md_reg_t *reg, apr_pool_t *p)
{
    apr_array_header_t *names, *mds;
    apr_status_t rv;
    int i;

    if ((rv = md_store_names(&names, reg->store, MD_SG_DOMAINS, p)) != APR_SUCCESS) {
        return rv;
    }
    mds = apr_array_make(p, names->nelts + 1, sizeof(md_t *));
    for (i = 0; i < names->nelts; ++i) {
        md_t *md;
        rv = load_md(&md, reg, APR_ARRAY_IDX(names, i, const char *), p);
        if (APR_STATUS_IS_ENOENT(rv)) {
            continue; /* a directory without md.json: not an MD (e.g. left by hand) */
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(mds, md_t *) = md;
    }
    qsort(mds->elts, mds->nelts, sizeof(md_t *), md_cmp_name);
    *pmds = mds;
    return APR_SUCCESS;
}

apr_status_t md_reg_list(apr_array_header_t **pmds, md_reg_t *reg, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int i;

    if ((rv = load_all(pmds, reg, p)) == APR_SUCCESS) {
        for (i = 0; i < (*pmds)->nelts; ++i) {
            md_reg_compute_state(reg, APR_ARRAY_IDX(*pmds, i, md_t *), now, p);
        }
    }
    return rv;
}

apr_status_t md_reg_find(md_t **pmd, md_reg_t *reg, const char *domain, apr_pool_t *p)
{
    apr_array_header_t *mds;
    apr_status_t rv;
    int i;

    if ((rv = load_all(&mds, reg, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mds, i, md_t *);
        if (md_contains_domain(md, domain)) {
            md_reg_compute_state(reg, md, apr_time_now(), p);
            *pmd = md;
            return APR_SUCCESS;
        }
    }
    return APR_ENOENT;
}

/* Checks md's names and that none of them belongs to another MD than 'self'. */
static apr_status_t check_md(md_reg_t *reg, md_t *md, const char *self, apr_pool_t *p)
{
    apr_array_header_t *domains, *mds;
    const char *err = NULL, *common;
    apr_status_t rv;
    int i;

    if (!md->domains || md->domains->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "a managed domain needs a name");
        return APR_EINVAL;
    }
    if ((rv = md_dns_names_check(&domains, &err, md->domains, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s", err);
        return rv;
    }
    md->domains = domains;
    if (domains->nelts > MD_NAMES_MAX) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s has %d names; " MD_NAMES_MAX_WHY,
                      md->name ? md->name : APR_ARRAY_IDX(domains, 0, const char *),
                      domains->nelts);
        return APR_EINVAL;
    }
    if (!self && (!md->name || md_array_str_index(domains, md->name, 0) < 0)) {
        md->name = APR_ARRAY_IDX(domains, 0, const char *);
    }
    if ((rv = load_all(&mds, reg, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < mds->nelts; ++i) {
        md_t *other = APR_ARRAY_IDX(mds, i, md_t *);
        if (self && !strcmp(other->name, self)) {
            continue;
        }
        if (!self && !strcmp(other->name, md->name)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EEXIST,
                          "a managed domain named '%s' exists already", md->name);
            return APR_EEXIST;
        }
        if ((common = md_common_domain(md, other)) != NULL) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EEXIST,
                          "%s is already managed by MD '%s'; a domain name can belong to "
                          "one MD only",
                          common, other->name);
            return APR_EEXIST;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t save_md_ex(md_reg_t *reg, const md_t *md, int durable, apr_pool_t *p)
{
    md_t *stored = md_copy(md, p);

    stored->state = MD_S_UNKNOWN; /* the state is computed, never trusted from disk */
    stored->state_descr = NULL;
    return md_store_save_json_ex(reg->store, MD_SG_DOMAINS, md->name, MD_FN_MD,
                                 md_to_json(stored, p), durable, p);
}

static apr_status_t save_md(md_reg_t *reg, const md_t *md, apr_pool_t *p)
{
    return save_md_ex(reg, md, 1, p);
}

apr_status_t md_reg_add(md_reg_t *reg, md_t *md, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_md(reg, md, NULL, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!md_store_path(reg->store, MD_SG_DOMAINS, md->name, NULL, p)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "'%s' cannot name a store entry",
                      md->name);
        return APR_EINVAL;
    }
    if ((rv = save_md(reg, md, p)) == APR_SUCCESS) {
        md_reg_compute_state(reg, md, apr_time_now(), p);
    }
    return rv;
}

apr_status_t md_reg_update(md_reg_t *reg, const char *name, md_t *md, apr_pool_t *p)
{
    md_t *old;
    apr_status_t rv;

    if ((rv = md_reg_get(&old, reg, name, p)) != APR_SUCCESS) {
        return rv;
    }
    md->name = old->name;
    if ((rv = check_md(reg, md, name, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = save_md(reg, md, p)) == APR_SUCCESS) {
        md_reg_compute_state(reg, md, apr_time_now(), p);
    }
    return rv;
}

apr_status_t md_reg_remove(const char **parchived, md_reg_t *reg, const char *name, apr_pool_t *p)
{
    md_t *md;
    apr_status_t rv;

    if ((rv = md_reg_get(&md, reg, name, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = md_store_archive(parchived, reg->store, md->name, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: could not move to the archive", name);
        return rv;
    }
    return md_store_purge(reg->store, MD_SG_STAGING, md->name, p);
}

/* ---- sync from the configuration ---- */

/* A stored MD that is no longer configured but shares names with md: hand its entry over
 * (rename, certificates kept) when md has none yet, else archive it. Its staging/ and live/
 * entries are the User's to write: they stay, strays now (md_reg_strays). */
static apr_status_t settle_old(md_reg_t *reg, const md_t *md, const md_t *old, int *phas_entry,
                               apr_pool_t *p)
{
    const char *archived;
    apr_status_t rv;

    if (!*phas_entry) {
        rv = md_store_rename(reg->store, MD_SG_DOMAINS, old->name, md->name, p);
        if (rv == APR_SUCCESS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, rv,
                          "%s: takes over the store entry of '%s', which is no longer "
                          "configured and shared names with it",
                          md->name, old->name);
            *phas_entry = 1;
        }
        return rv;
    }
    rv = md_store_archive(&archived, reg->store, old->name, p);
    if (rv == APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, rv,
                      "%s: '%s' is no longer configured and shared names with it; its files "
                      "moved to archive/%s",
                      md->name, old->name, archived);
    }
    return rv;
}

/* Writes md.json only when it changed: a restart with 1000 unchanged MDs writes nothing.
 * Written without fsync: md.json says what the configuration says (plus the account a
 * drive chose, which is found again among accounts/), so one lost in a crash is made again
 * at the next start, and a torn one is set aside (set_aside) and made again. */
static apr_status_t sync_one(md_reg_t *reg, md_t *md, const md_t *stored, int *pwritten,
                             apr_pool_t *p)
{
    md_t *want = md_copy(md, p);
    const char *before, *after;

    if (stored && !want->ca_account) {
        want->ca_account = stored->ca_account; /* learned by a drive, not configured */
        md->ca_account = stored->ca_account;
    }
    want->state = MD_S_UNKNOWN;
    want->state_descr = NULL;
    after = md_json_dump(md_to_json(want, p), 0, p);
    if (stored) {
        md_t *was = md_copy(stored, p);
        was->state = MD_S_UNKNOWN;
        was->state_descr = NULL;
        before = md_json_dump(md_to_json(was, p), 0, p);
        if (!strcmp(before, after)) {
            return APR_SUCCESS;
        }
    }
    ++*pwritten;
    return save_md_ex(reg, md, 0, p);
}

/* A stored md.json that cannot be read is moved aside (kept for the operator), not lost. */
static apr_status_t set_aside(md_reg_t *reg, const char *name, const char *why, apr_pool_t *p)
{
    const char *path = md_store_path(reg->store, MD_SG_DOMAINS, name, MD_FN_MD, p);
    const char *aside =
        apr_psprintf(p, "%s.broken-%" APR_TIME_T_FMT, path, apr_time_sec(apr_time_now()));
    apr_status_t rv = apr_file_rename(path, aside, p);

    md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                  "%s: %s; the file was moved to %s and the configuration defines the MD anew",
                  name, why, aside);
    return rv;
}

/* The stored MDs by name, and by domain those the configuration no longer has. Entries whose
 * md.json cannot be read are in 'broken'. Loaded once: startup cost grows with N, not N^2. */
typedef struct {
    apr_hash_t *by_name;                /* name -> md_t* */
    apr_hash_t *unconfigured_by_domain; /* domain -> md_t* */
    apr_hash_t *broken;                 /* name -> name */
} stored_t;

static apr_status_t load_stored(stored_t *st, md_reg_t *reg, const apr_array_header_t *mds,
                                apr_pool_t *p)
{
    apr_hash_t *configured = apr_hash_make(p);
    apr_array_header_t *names;
    apr_status_t rv;
    int i, j;

    st->by_name = apr_hash_make(p);
    st->unconfigured_by_domain = apr_hash_make(p);
    st->broken = apr_hash_make(p);
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mds, i, const md_t *);
        apr_hash_set(configured, md->name, APR_HASH_KEY_STRING, md);
    }
    if ((rv = md_store_names(&names, reg->store, MD_SG_DOMAINS, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *err;
        md_t *md;
        rv = read_md(&md, &err, reg, name, p);
        if (err) {
            apr_hash_set(st->broken, name, APR_HASH_KEY_STRING, err);
            continue;
        }
        if (rv != APR_SUCCESS) {
            continue; /* a directory without md.json is not an MD */
        }
        apr_hash_set(st->by_name, md->name, APR_HASH_KEY_STRING, md);
        if (apr_hash_get(configured, md->name, APR_HASH_KEY_STRING)) {
            continue;
        }
        for (j = 0; j < md->domains->nelts; ++j) {
            apr_hash_set(st->unconfigured_by_domain, APR_ARRAY_IDX(md->domains, j, const char *),
                         APR_HASH_KEY_STRING, md);
        }
    }
    return APR_SUCCESS;
}

/* Unconfigured stored MDs that share names with md: settled (renamed or archived) once. */
static apr_status_t settle_overlaps(md_reg_t *reg, stored_t *st, const md_t *md, int *phas_entry,
                                    apr_pool_t *p)
{
    apr_status_t rv;
    int i, j;

    for (i = 0; i < md->domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(md->domains, i, const char *);
        const md_t *old = apr_hash_get(st->unconfigured_by_domain, d, APR_HASH_KEY_STRING);
        if (!old) {
            continue;
        }
        if ((rv = settle_old(reg, md, old, phas_entry, p)) != APR_SUCCESS) {
            return rv;
        }
        for (j = 0; j < old->domains->nelts; ++j) {
            apr_hash_set(st->unconfigured_by_domain, APR_ARRAY_IDX(old->domains, j, const char *),
                         APR_HASH_KEY_STRING, NULL);
        }
        apr_hash_set(st->by_name, old->name, APR_HASH_KEY_STRING, NULL);
    }
    return APR_SUCCESS;
}

apr_status_t md_reg_sync(md_reg_t *reg, apr_array_header_t *mds, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    stored_t st;
    apr_status_t rv;
    int i, written = 0;

    if ((rv = load_stored(&st, reg, mds, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mds, i, md_t *), *stored;
        const char *broken = apr_hash_get(st.broken, md->name, APR_HASH_KEY_STRING);
        int has_entry;

        if (broken && (rv = set_aside(reg, md->name, broken, p)) != APR_SUCCESS) {
            return rv;
        }
        stored = apr_hash_get(st.by_name, md->name, APR_HASH_KEY_STRING);
        has_entry = stored || md_store_exists(reg->store, MD_SG_DOMAINS, md->name, NULL, p);
        if ((rv = settle_overlaps(reg, &st, md, &has_entry, p)) != APR_SUCCESS) {
            return rv;
        }
        if ((rv = sync_one(reg, md, stored, &written, p)) != APR_SUCCESS) {
            return rv;
        }
        md_reg_compute_state(reg, md, now, p);
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%d md.json written", written);
    return APR_SUCCESS;
}

/* Whether challenges/<name> was last changed before 'before' (its directory's time: every
 * answer written or removed changes it). lstat: a link there is looked at, not followed. */
static int changed_before(md_reg_t *reg, const char *name, apr_time_t before, apr_pool_t *p)
{
    const char *path = md_store_path(reg->store, MD_SG_CHALLENGES, name, NULL, p);
    apr_finfo_t fi;

    return path && apr_stat(&fi, path, APR_FINFO_MTIME | APR_FINFO_LINK, p) == APR_SUCCESS &&
           fi.mtime < before;
}

apr_status_t md_reg_strays(apr_array_header_t **pstrays, md_reg_t *reg, apr_pool_t *p)
{
    static const md_store_group_t groups[] = {MD_SG_STAGING, MD_SG_LIVE};
    apr_time_t stale = apr_time_now() - MD_REG_CHALLENGE_STALE;
    apr_array_header_t *names;
    md_reg_stray_t *stray;
    apr_status_t rv;

    *pstrays = apr_array_make(p, 2, sizeof(md_reg_stray_t));
    for (apr_size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); ++g) {
        if ((rv = md_store_names(&names, reg->store, groups[g], p)) != APR_SUCCESS) {
            return rv;
        }
        for (int i = 0; i < names->nelts; ++i) {
            const char *name = APR_ARRAY_IDX(names, i, const char *);
            if (!md_store_exists(reg->store, MD_SG_DOMAINS, name, NULL, p)) {
                stray = apr_array_push(*pstrays);
                stray->group = groups[g];
                stray->name = name;
            }
        }
    }
    /* answers no drive uses any more: one that waits for a validation this long failed */
    if ((rv = md_store_names(&names, reg->store, MD_SG_CHALLENGES, p)) != APR_SUCCESS) {
        return rv;
    }
    for (int i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (changed_before(reg, name, stale, p)) {
            stray = apr_array_push(*pstrays);
            stray->group = MD_SG_CHALLENGES;
            stray->name = name;
        }
    }
    return APR_SUCCESS;
}
