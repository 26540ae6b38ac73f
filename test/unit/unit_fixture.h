/* unit_fixture.h: what many unit tests need: a pool, a private temporary directory removed
 * afterwards, and a log sink that keeps the last error line for assertions. */
#ifndef UNIT_FIXTURE_H
#define UNIT_FIXTURE_H

#include <apr_pools.h>

typedef struct {
    apr_pool_t *p;
    char dir[64];
} unit_fixture_t;

/* cmocka setup/teardown: *state becomes a unit_fixture_t with a fresh pool and directory. */
int unit_fixture_setup(void **state);
int unit_fixture_teardown(void **state);

/* Removes a file tree (no symlinks followed); a missing path is fine. */
void unit_rmtree(const char *path);

/* Installs a sink that keeps the last ERR message (returned, "" when none) and prints nothing. */
void unit_log_capture(void);
const char *unit_log_last_error(void);
void unit_log_clear(void);

#endif
