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

/* The end of a server script whose request handler class is H: serves H on one 127.0.0.1
 * port with a thread per request and reports the port as unit_server_start expects. */
#define UNIT_SERVER_PY_SERVE                                                                       \
    "class S(http.server.ThreadingHTTPServer):\n"                                                  \
    "    daemon_threads = True\n"                                                                  \
    "s = S(('127.0.0.1', 0), H)\n"                                                                 \
    "with open(os.path.join(d, 'ports.tmp'), 'w') as f:\n"                                         \
    "    f.write('%d' % s.server_address[1])\n"                                                    \
    "os.rename(os.path.join(d, 'ports.tmp'), os.path.join(d, 'ports'))\n"                          \
    "s.serve_forever()\n"

typedef struct {
    pid_t pid;       /* 0 when not running */
    int port;        /* the first number the script wrote to <dir>/ports */
    int port2;       /* the second number there, 0 when there was none */
    const char *log; /* <dir>/server.log: the script's stdout and stderr */
} unit_server_t;

/* Writes script to <dir>/server.py and runs it as 'python3 server.py <dir>'. The script
 * binds 127.0.0.1 port 0 and, once listening, writes its port (or two ports separated by a
 * space) to <dir>/ports (atomically, by rename). Returns 0 when it did within
 * UNIT_SERVER_START_WAIT, -1 otherwise. */
int unit_server_start(unit_server_t *srv, const char *dir, const char *script, apr_pool_t *p);

/* Terminates the server and waits for it. Safe when it is not running. */
void unit_server_stop(unit_server_t *srv);

/* "http://127.0.0.1:<port><path>" for the server's first port. */
const char *unit_server_url(const unit_server_t *srv, const char *path, apr_pool_t *p);

/* A TCP port on 127.0.0.1 that nobody listens on right now (bound, then closed). */
int unit_closed_port(void);

/* For a cmocka group that talks HTTP: initializes APR and libcurl, keeps logged errors
 * (unit_fixture.h) and, unless pp is NULL, makes a pool and a temporary directory (room for
 * UNIT_DIR_LEN). Returns 0 on success, -1 otherwise. */
int unit_net_open(apr_pool_t **pp, char *dir);

/* Undoes unit_net_open after stopping srv (may be NULL): removes the directory and destroys
 * the pool (when p is not NULL), restores the default log sink, cleans up libcurl and APR. */
void unit_net_close(apr_pool_t *p, const char *dir, unit_server_t *srv);

#endif
