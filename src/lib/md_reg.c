/* md_reg.c: the registry of managed domains over a store: checks on add/update (valid
 * names, no domain in two MDs), removal into the archive, and state from certificates. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "md_reg.h"
#include "md_cert.h"
#include "md_log.h"

struct md_reg_t {
    md_store_t *store;
};

apr_status_t md_reg_create(md_reg_t **preg, md_store_t *store, apr_pool_t *p)
{
    md_reg_t *reg = apr_pcalloc(p, sizeof(*reg));

    reg->store = store;
    *preg = reg;
    return APR_SUCCESS;
}

md_store_t *md_reg_store(md_reg_t *reg)
{
    return reg->store;
}

static apr_status_t load_md(md_t **pmd, md_reg_t *reg, const char *name, apr_pool_t *p)
{
    md_json_t *j;
    const char *err = NULL;
    apr_status_t rv;

    rv = md_store_load_json(&j, &err, reg->store, MD_SG_DOMAINS, name, MD_FN_MD, p);
    if (rv == APR_SUCCESS) {
        rv = md_from_json(pmd, &err, j, p);
        if (rv != APR_SUCCESS) {
            err = apr_psprintf(p, "%s: %s",
                               md_store_path(reg->store, MD_SG_DOMAINS, name, MD_FN_MD, p), err);
        }
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s (the file is left as it is)",
                      err ? err : "cannot read md.json");
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

static apr_status_t save_md(md_reg_t *reg, const md_t *md, apr_pool_t *p)
{
    md_t *stored = md_copy(md, p);

    stored->state = MD_S_UNKNOWN; /* the state is computed, never trusted from disk */
    stored->state_descr = NULL;
    return md_store_save_json(reg->store, MD_SG_DOMAINS, md->name, MD_FN_MD, md_to_json(stored, p),
                              p);
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
