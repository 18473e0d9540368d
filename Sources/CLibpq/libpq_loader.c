/* libpq loaded on first use instead of linked (see include/CLibpq.h for why). Each function of libpq this package
   calls is defined here with libpq's own signature and forwards to the function dlsym found in libpq.so.5. */
#include "CLibpq.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* X(return type, name, parameters, arguments) for every libpq function this package uses; V for those returning
   nothing. */
#define LIBPQ_FUNCTIONS(X, V) \
    X(PGconn *, PQconnectdbParams, (const char *const *keywords, const char *const *values, int expand_dbname), (keywords, values, expand_dbname)) \
    X(ConnStatusType, PQstatus, (const PGconn *conn), (conn)) \
    X(char *, PQerrorMessage, (const PGconn *conn), (conn)) \
    X(int, PQconnectionNeedsPassword, (const PGconn *conn), (conn)) \
    V(void, PQfinish, (PGconn *conn), (conn)) \
    X(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *conn, PQnoticeProcessor proc, void *arg), (conn, proc, arg)) \
    X(int, PQserverVersion, (const PGconn *conn), (conn)) \
    X(int, PQbackendPID, (const PGconn *conn), (conn)) \
    X(PQconninfoOption *, PQconninfoParse, (const char *conninfo, char **errmsg), (conninfo, errmsg)) \
    X(PQconninfoOption *, PQconndefaults, (void), ()) \
    V(void, PQconninfoFree, (PQconninfoOption *connOptions), (connOptions)) \
    V(void, PQfreemem, (void *ptr), (ptr)) \
    X(PGresult *, PQexec, (PGconn *conn, const char *query), (conn, query)) \
    X(PGresult *, PQexecParams, (PGconn *conn, const char *command, int nParams, const Oid *paramTypes, \
        const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat), \
        (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat)) \
    X(ExecStatusType, PQresultStatus, (const PGresult *res), (res)) \
    X(char *, PQresultErrorMessage, (const PGresult *res), (res)) \
    X(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode)) \
    V(void, PQclear, (PGresult *res), (res)) \
    X(int, PQntuples, (const PGresult *res), (res)) \
    X(int, PQnfields, (const PGresult *res), (res)) \
    X(char *, PQfname, (const PGresult *res, int field_num), (res, field_num)) \
    X(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num)) \
    X(int, PQgetlength, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num)) \
    X(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num)) \
    X(char *, PQcmdTuples, (PGresult *res), (res))

#define POINTER(type, name, parameters, arguments) static type (*loaded_##name) parameters;
LIBPQ_FUNCTIONS(POINTER, POINTER)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_problem[512];
static int loaded;

static void load(void) {
    void *library = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *why = dlerror();
        snprintf(load_problem, sizeof load_problem, "%s", why != NULL ? why : "libpq.so.5 cannot be loaded");
        return;
    }
#define LOOKUP(type, name, parameters, arguments) \
    *(void **)(&loaded_##name) = dlsym(library, #name); \
    if (loaded_##name == NULL) { \
        snprintf(load_problem, sizeof load_problem, "libpq.so.5 has no %s (a libpq older than 15?)", #name); \
        return; \
    }
    LIBPQ_FUNCTIONS(LOOKUP, LOOKUP)
    loaded = 1;
}

const char *export_cleanup_libpq_load(void) {
    pthread_once(&load_once, load);
    return loaded ? NULL : load_problem;
}

#define FORWARD(type, name, parameters, arguments) \
    type name parameters { return loaded_##name arguments; }
#define FORWARD_VOID(type, name, parameters, arguments) \
    type name parameters { loaded_##name arguments; }
LIBPQ_FUNCTIONS(FORWARD, FORWARD_VOID)
