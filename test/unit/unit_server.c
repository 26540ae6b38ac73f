/* unit_server.c: starting and stopping the small local Python servers unit tests talk to,
 * and the set-up of test groups that talk HTTP. Linked into every unit test binary. */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_http.h"
#include "md_log.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_server.h"

#define POLL_STEP apr_time_from_msec(50)

int unit_server_start(unit_server_t *srv, const char *dir, const char *script, apr_pool_t *p)
{
    const char *path = apr_psprintf(p, "%s/server.py", dir);
    const char *ports = apr_psprintf(p, "%s/ports", dir);
    apr_time_t end = apr_time_now() + UNIT_SERVER_START_WAIT;
    char *text = NULL;
    apr_size_t len;
    int fd;

    memset(srv, 0, sizeof(*srv));
    srv->log = apr_psprintf(p, "%s/server.log", dir);
    if (md_file_write_atomic(path, script, strlen(script), 0600, p) != APR_SUCCESS) {
        return -1;
    }
    if ((srv->pid = fork()) == 0) {
        if ((fd = open(srv->log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(UNIT_PYTHON, UNIT_PYTHON, path, dir, (char *) NULL);
        _exit(127);
    }
    if (srv->pid < 0) {
        srv->pid = 0;
        return -1;
    }
    while (apr_time_now() < end) {
        if (md_file_read(&text, &len, ports, 0, p) == APR_SUCCESS &&
            sscanf(text, "%d %d", &srv->port, &srv->port2) >= 1) {
            return 0;
        }
        if (waitpid(srv->pid, NULL, WNOHANG) == srv->pid) {
            srv->pid = 0; /* died: the log says why */
            return -1;
        }
        apr_sleep(POLL_STEP);
    }
    return -1;
}

void unit_server_stop(unit_server_t *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        waitpid(srv->pid, NULL, 0);
        srv->pid = 0;
    }
}

int unit_closed_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *) &sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    close(fd);
    return port;
}

const char *unit_server_url(const unit_server_t *srv, const char *path, apr_pool_t *p)
{
    return apr_psprintf(p, "http://127.0.0.1:%d%s", srv->port, path);
}

int unit_net_open(apr_pool_t **pp, char *dir)
{
    if (apr_initialize() != APR_SUCCESS || md_http_global_init() != APR_SUCCESS) {
        return -1;
    }
    unit_log_capture(MD_LOG_ERR);
    unit_log_clear();
    return pp ? unit_tmp_open(pp, dir) : 0;
}

void unit_net_close(apr_pool_t *p, const char *dir, unit_server_t *srv)
{
    if (srv) {
        unit_server_stop(srv);
    }
    if (p) {
        unit_tmp_close(p, dir);
    }
    md_log_set(NULL, NULL, MD_LOG_WARN);
    md_http_global_cleanup();
    apr_terminate();
}
