#ifndef EXPORT_CLEANUP_CLIBPQ_SHIM_H
#define EXPORT_CLEANUP_CLIBPQ_SHIM_H
/* libpq, PostgreSQL's client library (Debian: libpq-dev). Connection settings, TLS, .pgpass, PGSERVICE and the
   PG* environment variables behave through it as in every PostgreSQL tool. */
#include <libpq-fe.h>
#endif
