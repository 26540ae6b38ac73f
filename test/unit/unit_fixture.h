/* unit_fixture.h: what many unit tests need: a pool, a private temporary directory removed
 * afterwards, and a log sink that keeps the errors logged for assertions. */
#ifndef UNIT_FIXTURE_H
#define UNIT_FIXTURE_H

#include <apr_pools.h>

#include "md_log.h"

/* Room for the name of a temporary directory unit_tmp_open makes. */
#define UNIT_DIR_LEN 64

typedef struct {
    apr_pool_t *p;
    char dir[UNIT_DIR_LEN];
} unit_fixture_t;

/* cmocka setup/teardown: *state becomes a unit_fixture_t with a fresh pool and directory. */
int unit_fixture_setup(void **state);
int unit_fixture_teardown(void **state);

/* A fresh pool in *pp and a new private directory under /tmp whose name goes to dir (room
 * for UNIT_DIR_LEN). Returns 0 when both were made, -1 otherwise. */
int unit_tmp_open(apr_pool_t **pp, char *dir);

/* Removes dir with everything below it, then destroys p. Returns 0 when dir is gone. */
int unit_tmp_close(apr_pool_t *p, const char *dir);

/* Removes a file tree (no symlinks followed). Returns 0 when path is gone afterwards (a
 * missing path is fine), -1 when something could not be removed. */
int unit_rmtree(const char *path);

/* Writes an executable shell script dir/name with body after its #! line; returns its path.
 * Fails the test when it cannot. */
const char *unit_script(apr_pool_t *p, const char *dir, const char *name, const char *body);

/* Installs a sink that keeps the messages at level 'keep' or more severe and prints nothing
 * (everything goes to stderr as well when the environment has MD_TEST_LOG). */
void unit_log_capture(md_log_level_t keep);
/* The last message kept since unit_log_clear ("" when none). */
const char *unit_log_last_error(void);
/* Every message kept since unit_log_clear, one a line (cut off when very long). */
const char *unit_log_text(void);
/* How many messages were kept since unit_log_clear. */
int unit_log_count(void);
void unit_log_clear(void);
/* cmocka per-test setup that only does unit_log_clear. */
int unit_log_clear_setup(void **state);

#endif
