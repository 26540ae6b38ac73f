/* unit_server.h: for unit tests that talk to a small local Python server -- start a script
 * in a temporary directory, wait until it reports its port, stop it, remove the directory. */
#ifndef UNIT_SERVER_H
#define UNIT_SERVER_H

#include <sys/types.h>
#include <apr_pools.h>
#include <apr_time.h>

#define UNIT_PYTHON "/usr/bin/python3"
/* How long a server may take to start and report its port. */
#define UNIT_SERVER_START_WAIT apr_time_from_sec(15)

typedef struct {
    pid_t pid;       /* 0 when not running */
    int port;        /* the first number the script wrote to <dir>/ports */
    const char *log; /* <dir>/server.log: the script's stdout and stderr */
} unit_server_t;

/* Writes script to <dir>/server.py and runs it as 'python3 server.py <dir>'. The script
 * binds 127.0.0.1 port 0 and, once listening, writes its port to <dir>/ports (atomically,
 * by rename). Returns 0 when it did within UNIT_SERVER_START_WAIT, -1 otherwise. */
int unit_server_start(unit_server_t *srv, const char *dir, const char *script, apr_pool_t *p);

/* Terminates the server and waits for it. Safe when it is not running. */
void unit_server_stop(unit_server_t *srv);

/* A TCP port on 127.0.0.1 that nobody listens on right now (bound, then closed). */
int unit_closed_port(void);

/* Removes dir and everything below it. */
void unit_dir_remove(const char *dir, apr_pool_t *p);

#endif
