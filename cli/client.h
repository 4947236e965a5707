/* cli/client.h — talking to earshotd's control socket, shared by the client
 * commands (cmd_client.c, cmd_teach.c). */
#ifndef EARSHOT_CLI_CLIENT_H
#define EARSHOT_CLI_CLIENT_H
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

typedef struct {
    int fd;
    FILE *in;
} conn;

/* --socket, else $EARSHOT_SOCKET, else /run/earshot/control.sock */
const char *client_socket_path(const char *flag);
int client_connect(const char *cmd, const char *path, conn *c);
void client_disconnect(conn *c);
/* Sends req (stolen) as one line. */
int client_send(const char *cmd, conn *c, json_t *req);
/* The next line as JSON, NULL at end or on garbage. */
json_t *client_read(conn *c);
/* The reply to the request just sent (events before it are skipped); an
 * error reply is printed and gives NULL. */
json_t *client_reply(const char *cmd, conn *c);
void client_print_json(json_t *o);
/* One request (stolen), one reply. */
int client_round_trip(const char *cmd, const char *sock, json_t *req, json_t **out);

/* Options every client command takes: --socket, --json, --model, --help. */
typedef struct {
    const char *sock, *model;
    int json;
} common;
/* Parses them and the command's extra options (on_extra gets each); -1
 * after --help, 0, or a CLI_* status. */
int client_parse(const char *cmd, const char *help, int argc, char **argv, common *o,
                 const struct option *extra, int (*on_extra)(int, const char *, void *),
                 void *user);
#endif
