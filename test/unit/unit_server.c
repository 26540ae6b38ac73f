/* unit_server.c: starting and stopping the small local Python servers unit tests talk to,
 * and their temporary directories. Linked into every unit test binary. */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "md_util.h"
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
            sscanf(text, "%d", &srv->port) == 1) {
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

void unit_dir_remove(const char *dir, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_dir_t *d;

    if (apr_dir_open(&d, dir, p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
            const char *path = apr_pstrcat(p, dir, "/", fi.name, NULL);
            if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) {
                continue;
            }
            if (fi.filetype == APR_DIR) {
                unit_dir_remove(path, p);
            } else {
                apr_file_remove(path, p);
            }
        }
        apr_dir_close(d);
    }
    apr_dir_remove(dir, p);
}
