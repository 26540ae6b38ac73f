/* unit_fixture.c: shared cmocka fixtures for the unit tests -- pool, temporary directory,
 * and a capturing log sink (test-process state only, never part of the library). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_general.h>

#include "md_log.h"
#include "unit_fixture.h"

static char last_error[1024];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

void unit_rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int unit_fixture_setup(void **state)
{
    unit_fixture_t *fx = calloc(1, sizeof(*fx));

    if (!fx || apr_pool_create(&fx->p, NULL) != APR_SUCCESS) {
        return -1;
    }
    strcpy(fx->dir, "/tmp/md-unit-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        return -1;
    }
    *state = fx;
    return 0;
}

int unit_fixture_teardown(void **state)
{
    unit_fixture_t *fx = *state;

    unit_rmtree(fx->dir);
    apr_pool_destroy(fx->p);
    free(fx);
    return 0;
}

static void capture(void *baton, const char *file, int line, md_log_level_t level, apr_status_t rv,
                    const char *msg)
{
    (void) baton;
    (void) file;
    (void) line;
    (void) rv;
    if (level <= MD_LOG_ERR) {
        snprintf(last_error, sizeof(last_error), "%s", msg);
    }
}

void unit_log_capture(void)
{
    md_log_set(capture, NULL, MD_LOG_WARN);
}

const char *unit_log_last_error(void)
{
    return last_error;
}

void unit_log_clear(void)
{
    last_error[0] = '\0';
}
