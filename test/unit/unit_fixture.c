/* unit_fixture.c: shared cmocka fixtures for the unit tests -- pool, temporary directory,
 * and a capturing log sink (test-process state only, never part of the library). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <cmocka.h>

#include "unit_fixture.h"

#define UNIT_LAST_LEN 1024
#define UNIT_TEXT_LEN 8192
/* file descriptors nftw may keep open while it walks */
#define UNIT_RMTREE_FDS 16

static char last_error[UNIT_LAST_LEN];
static char log_text[UNIT_TEXT_LEN];
static int log_count;
static md_log_level_t log_keep = MD_LOG_ERR;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

int unit_rmtree(const char *path)
{
    struct stat st;

    nftw(path, rm_entry, UNIT_RMTREE_FDS, FTW_DEPTH | FTW_PHYS);
    return (lstat(path, &st) != 0 && errno == ENOENT) ? 0 : -1;
}

int unit_tmp_open(apr_pool_t **pp, char *dir)
{
    *pp = NULL;
    if (apr_pool_create(pp, NULL) != APR_SUCCESS) {
        return -1;
    }
    snprintf(dir, UNIT_DIR_LEN, "/tmp/md-unit-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

int unit_tmp_close(apr_pool_t *p, const char *dir)
{
    int rc = unit_rmtree(dir);

    apr_pool_destroy(p);
    return rc;
}

int unit_fixture_setup(void **state)
{
    unit_fixture_t *fx = calloc(1, sizeof(*fx));

    if (!fx || unit_tmp_open(&fx->p, fx->dir) != 0) {
        return -1;
    }
    *state = fx;
    return 0;
}

int unit_fixture_teardown(void **state)
{
    unit_fixture_t *fx = *state;

    unit_tmp_close(fx->p, fx->dir);
    free(fx);
    return 0;
}

static void capture(void *baton, const char *file, int line, md_log_level_t level, apr_status_t rv,
                    const char *msg)
{
    size_t used = strlen(log_text);

    (void) baton;
    if (level <= log_keep) {
        ++log_count;
        snprintf(last_error, sizeof(last_error), "%s", msg);
        snprintf(log_text + used, sizeof(log_text) - used, "%s\n", msg);
    }
    if (getenv("MD_TEST_LOG")) {
        fprintf(stderr, "[%s] %s:%d: %s (%d)\n", md_log_level_name(level), file, line, msg, rv);
    }
}

void unit_log_capture(md_log_level_t keep)
{
    log_keep = keep;
    md_log_set(capture, NULL, getenv("MD_TEST_LOG") ? MD_LOG_TRACE : keep);
}

const char *unit_log_last_error(void)
{
    return last_error;
}

const char *unit_log_text(void)
{
    return log_text;
}

int unit_log_count(void)
{
    return log_count;
}

void unit_log_clear(void)
{
    last_error[0] = '\0';
    log_text[0] = '\0';
    log_count = 0;
}

int unit_log_clear_setup(void **state)
{
    (void) state;
    unit_log_clear();
    return 0;
}

const char *unit_script(apr_pool_t *p, const char *dir, const char *name, const char *body)
{
    const char *path = apr_pstrcat(p, dir, "/", name, NULL);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    fclose(fp);
    assert_int_equal(chmod(path, 0700), 0);
    return path;
}
