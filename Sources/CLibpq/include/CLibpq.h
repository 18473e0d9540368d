#ifndef EXPORT_CLEANUP_CLIBPQ_H
#define EXPORT_CLEANUP_CLIBPQ_H
/* libpq, PostgreSQL's client library (headers: Debian's libpq-dev; at run time: libpq5). Connection settings, TLS,
   .pgpass, PGSERVICE and the PG* environment variables behave through it as in every PostgreSQL tool.

   The binary does not link libpq: it is loaded on first use (libpq_loader.c), so a sweep of an SQLite database
   never maps it and the two dozen libraries it pulls in (OpenSSL, GnuTLS, Kerberos, LDAP, SASL: about 5 MiB of
   resident memory). The functions declared by libpq-fe.h are defined there, each forwarding to libpq's own. */
#include <postgresql/libpq-fe.h>

/* Loads libpq (once, thread-safe). Returns NULL when it is loaded, else why not (the dynamic loader's message).
   Every other function of libpq-fe.h used by this package may be called only after this returned NULL. */
const char *export_cleanup_libpq_load(void);
#endif
