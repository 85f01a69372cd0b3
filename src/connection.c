/*-------------------------------------------------------------------------
 *
 * connection.c
 *		MySQL connections: opening them with the server's options, waiting
 *		on their socket interruptibly, reporting their errors, and closing
 *		them when the (sub)transaction that opened them ends.
 *
 * Every connection uses the client library's non-blocking API, so that a
 * query cancel, statement_timeout or postmaster death is noticed while
 * MySQL is busy, instead of after it answers.  A connection that is closed
 * while its statement still runs (error, cancel, early end of a scan) has
 * that statement killed over a second connection, so nothing is left
 * running on the MySQL server.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include <errmsg.h>
#include <fcntl.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* Connections still open, in TopMemoryContext; closed at transaction end. */
static dlist_head open_connections = DLIST_STATIC_INIT(open_connections);
static bool callbacks_registered = false;

static void xact_callback(XactEvent event, void *arg);
static void subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg);

/*
 * Seconds the statement-killing helper connection may wait for the server,
 * per step (connect, handshake, KILL): it runs on error and exit paths, so
 * a stalled server must not hold a cancelled or terminated backend.
 */
#define KILL_TIMEOUT 2

/*
 * Authentication plugins pypeline's client may use: each proves the
 * mapping's password without sending it.  Those that send it as it is
 * (mysql_clear_password, and dialog for PAM) are never used: Connector/C
 * authenticates before it notices that a server it was told to require TLS
 * from has none, so the password would travel in plain text.  GSSAPI, which
 * ignores the password (it is the PostgreSQL server's OS identity), only for
 * mappings that need no password (superusers').
 */
#define PASSWORD_PLUGINS "mysql_native_password,client_ed25519,caching_sha2_password,sha256_password"
#define PASSWORDLESS_PLUGINS "auth_gssapi_client"

static char *
copy_or_null(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/*
 * Deep copy of the options into the connection's own memory, because the
 * abort callback may need them (to kill a statement) after the memory of
 * the statement that opened the connection is gone.
 */
static SourceOptions *
copy_options(const SourceOptions *src)
{
	SourceOptions *dst = palloc(sizeof(SourceOptions));

	*dst = *src;
	dst->server_name = copy_or_null(src->server_name);
	dst->host = copy_or_null(src->host);
	dst->socket = copy_or_null(src->socket);
	dst->dbname = copy_or_null(src->dbname);
	dst->charset = copy_or_null(src->charset);
	dst->ssl_mode = copy_or_null(src->ssl_mode);
	dst->ssl_ca = copy_or_null(src->ssl_ca);
	dst->ssl_cert = copy_or_null(src->ssl_cert);
	dst->ssl_key = copy_or_null(src->ssl_key);
	dst->username = copy_or_null(src->username);
	dst->password = copy_or_null(src->password);
	return dst;
}

static bool
tls_required(const SourceOptions *opts)
{
	return strcmp(opts->ssl_mode, "DISABLED") != 0 && strcmp(opts->ssl_mode, "PREFERRED") != 0;
}

/*
 * The MySQL client options shared by data and kill connections; a kill
 * connection waits at most "timeout" seconds for anything.
 */
static void
set_client_options(MYSQL *mysql, const SourceOptions *opts, unsigned int timeout_override)
{
	unsigned int connect_timeout = timeout_override ? timeout_override : (unsigned int) opts->connect_timeout;
	unsigned int read_timeout = timeout_override ? timeout_override : (unsigned int) opts->read_timeout;
	unsigned int off = 0;
	unsigned int protocol = opts->socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
	const char *plugins = opts->password_required ? PASSWORD_PLUGINS :
		PASSWORD_PLUGINS "," PASSWORDLESS_PLUGINS;

	mysql_options(mysql, MYSQL_SET_CHARSET_NAME, opts->charset);
	mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
	mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &read_timeout);
	mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &off);
	/* "localhost" without a socket means TCP, never the default socket */
	mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
	mysql_options(mysql, MARIADB_OPT_RESTRICTED_AUTH, plugins);
	/* TIMESTAMP values arrive as UTC wall time; convert.c relies on it. */
	mysql_options(mysql, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");

	/*
	 * Connector/C 3.3 tries TLS when asked and falls back to plain text if
	 * the server has none (PREFERRED); pypeline_connect refuses that
	 * fallback for the stricter modes.  Its certificate verification checks
	 * the chain and the host name together, so VERIFY_CA and
	 * VERIFY_IDENTITY both verify both.
	 */
	if (strcmp(opts->ssl_mode, "DISABLED") != 0)
	{
		my_bool		enforce = true;
		my_bool		verify = strncmp(opts->ssl_mode, "VERIFY_", 7) == 0;

		mysql_ssl_set(mysql, opts->ssl_key, opts->ssl_cert, opts->ssl_ca, NULL, NULL);
		mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce);
		mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	}
}

static const char *
connect_host(const SourceOptions *opts)
{
	/* libmysqlclient takes the unix socket only for host "localhost" */
	return opts->socket ? "localhost" : opts->host;
}

/*
 * Maps a MySQL client or server error to a SQLSTATE a PostgreSQL user can
 * catch: authentication, connection trouble and cancellation get their own
 * classes, everything else is an FDW error.
 */
static int
errcode_for_mysql_error(unsigned int mysql_errno)
{
	switch (mysql_errno)
	{
		case 1044:				/* ER_DBACCESS_DENIED_ERROR */
		case 1045:				/* ER_ACCESS_DENIED_ERROR */
		case 1698:				/* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
			return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		case 1142:				/* ER_TABLEACCESS_DENIED_ERROR */
		case 1143:				/* ER_COLUMNACCESS_DENIED_ERROR */
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case 1049:				/* ER_BAD_DB_ERROR */
			return ERRCODE_FDW_SCHEMA_NOT_FOUND;
		case 1146:				/* ER_NO_SUCH_TABLE */
			return ERRCODE_FDW_TABLE_NOT_FOUND;
		case 1054:				/* ER_BAD_FIELD_ERROR */
			return ERRCODE_FDW_COLUMN_NAME_NOT_FOUND;
		case 1064:				/* ER_PARSE_ERROR */
			return ERRCODE_SYNTAX_ERROR;
		case 1792:				/* ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION */
			return ERRCODE_READ_ONLY_SQL_TRANSACTION;
		case 1317:				/* ER_QUERY_INTERRUPTED */
		case 1927:				/* ER_CONNECTION_KILLED */
			return ERRCODE_QUERY_CANCELED;
		case CR_CONNECTION_ERROR:
		case CR_CONN_HOST_ERROR:
		case CR_UNKNOWN_HOST:
		case CR_SERVER_HANDSHAKE_ERR:
		case CR_SSL_CONNECTION_ERROR:
			return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
		case CR_SERVER_GONE_ERROR:
		case CR_SERVER_LOST:
			return ERRCODE_CONNECTION_FAILURE;
		default:
			return ERRCODE_FDW_ERROR;
	}
}

/*
 * Raises the connection's current MySQL error.  "action" completes
 * "could not ... MySQL server": e.g. "connect to", "execute query on".
 */
void
pypeline_report_mysql_error(SourceConnection *conn, const char *action)
{
	unsigned int mysql_errno_value = mysql_errno(conn->mysql);
	char	   *message = pstrdup(mysql_error(conn->mysql));
	char	   *sqlstate = pstrdup(mysql_sqlstate(conn->mysql));
	int			code = errcode_for_mysql_error(mysql_errno_value);

	/* lost before the handshake finished: the connection was never made */
	if (conn->thread_id == 0 && code == ERRCODE_CONNECTION_FAILURE)
		code = ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;

	ereport(ERROR,
			(errcode(code),
			 errmsg("could not %s MySQL server \"%s\"", action, conn->options->server_name),
			 errdetail("MySQL error %u (%s): %s", mysql_errno_value, sqlstate, message),
			 mysql_errno_value == CR_SSL_CONNECTION_ERROR ?
			 errhint("Check ssl_mode and ssl_ca of server \"%s\": the certificate must be signed by that CA and name the host.",
					 conn->options->server_name) :
			 code == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ?
			 errhint("Check the username and password in the user mapping for server \"%s\", and the grants on the MySQL side.",
					 conn->options->server_name) :
			 code == ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION ?
			 errhint("Check the host, port or socket options of server \"%s\", that MySQL is running, and its connect_timeout (%d seconds).",
					 conn->options->server_name, conn->options->connect_timeout) :
			 code == ERRCODE_CONNECTION_FAILURE ?
			 errhint("The MySQL server closed the connection, or sent nothing for read_timeout (%d seconds).",
					 conn->options->read_timeout) : 0));
}

/*
 * Sleeps until the MySQL socket is ready for what the library asked for
 * ("status" from a *_start or *_cont call), and returns what is ready, to
 * pass to the *_cont call.  Interrupts are serviced while waiting.  If the
 * library did not ask for a timeout, read_timeout of the server still
 * bounds the wait, so a stalled server never hangs a backend.
 */
int
pypeline_wait_for_mysql(SourceConnection *conn, int status)
{
	int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT;
	long		timeout_ms;
	TimestampTz start = GetCurrentTimestamp();
	bool		connecting = conn->thread_id == 0;

	if (status & MYSQL_WAIT_READ)
		events |= WL_SOCKET_READABLE;
	if (status & MYSQL_WAIT_WRITE)
		events |= WL_SOCKET_WRITEABLE;
	if (status & MYSQL_WAIT_TIMEOUT)
		timeout_ms = mysql_get_timeout_value_ms(conn->mysql);
	else
		timeout_ms = 1000L * (connecting ? conn->options->connect_timeout : conn->options->read_timeout);

	for (;;)
	{
		long		remaining = timeout_ms - TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		int			rc;
		int			ready = 0;

		if (remaining < 0)
			remaining = 0;
		rc = WaitLatchOrSocket(MyLatch, events, mysql_get_socket(conn->mysql),
							   remaining, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & WL_SOCKET_READABLE)
			ready |= MYSQL_WAIT_READ;
		if (rc & WL_SOCKET_WRITEABLE)
			ready |= MYSQL_WAIT_WRITE;
		if (ready)
			return ready;
		if (rc & WL_TIMEOUT)
		{
			if (status & MYSQL_WAIT_TIMEOUT)
				return MYSQL_WAIT_TIMEOUT;
			if (connecting)
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("could not connect to MySQL server \"%s\" within connect_timeout (%d seconds)",
								conn->options->server_name, conn->options->connect_timeout),
						 errhint("Check the host, port or socket options of the server and that MySQL is running.")));
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("MySQL server \"%s\" sent nothing within read_timeout (%d s)",
							conn->options->server_name, conn->options->read_timeout),
					 errhint("Raise the read_timeout option of the server if the query is expected to be this slow.")));
		}
	}
}

/*
 * Opens a connection.  The connection is registered before the first byte
 * goes out, so an error or cancel during connect closes it too.
 */
SourceConnection *
pypeline_connect(SourceOptions *options)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "pypeline MySQL connection",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	SourceConnection *conn = palloc0(sizeof(SourceConnection));
	MYSQL	   *result = NULL;
	int			socket_flags;

	conn->options = copy_options(options);
	conn->subxid = GetCurrentSubTransactionId();
	MemoryContextSwitchTo(oldcxt);

	if (!callbacks_registered)
	{
		RegisterXactCallback(xact_callback, NULL);
		RegisterSubXactCallback(subxact_callback, NULL);
		callbacks_registered = true;
	}
	conn->mysql = mysql_init(NULL);
	if (conn->mysql == NULL)
	{
		MemoryContextDelete(cxt);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not allocate a MySQL connection handle")));
	}
	dlist_push_head(&open_connections, &conn->node);

	mysql_options(conn->mysql, MYSQL_OPT_NONBLOCK, 0);
	set_client_options(conn->mysql, conn->options, 0);

	MYSQL_NONBLOCKING(conn, mysql_real_connect_start(&result, conn->mysql, connect_host(conn->options),
													 conn->options->username, conn->options->password,
													 conn->options->dbname, conn->options->port,
													 conn->options->socket, 0),
					  mysql_real_connect_cont, &result, conn->mysql);
	if (result == NULL)
		pypeline_report_mysql_error(conn, "connect to");
	conn->thread_id = mysql_thread_id(conn->mysql);

	/*
	 * After the handshake the library puts the socket back in blocking mode,
	 * and its TLS layer then reads with a plain blocking read(): a cancel
	 * arriving just before it would wait for MySQL.  Non-blocking, every
	 * wait goes through pypeline_wait_for_mysql.
	 */
	socket_flags = fcntl(mysql_get_socket(conn->mysql), F_GETFL);
	if (socket_flags < 0 ||
		fcntl(mysql_get_socket(conn->mysql), F_SETFL, socket_flags | O_NONBLOCK) < 0)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("could not make the socket to MySQL server \"%s\" non-blocking: %m",
						conn->options->server_name)));
	/* the library falls back to plain text when the server offers no TLS */
	if (tls_required(conn->options) && mysql_get_ssl_cipher(conn->mysql) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("MySQL server \"%s\" did not accept a TLS connection, which ssl_mode %s requires",
						conn->options->server_name, conn->options->ssl_mode),
				 errhint("Enable TLS on the MySQL server, or set ssl_mode to PREFERRED or DISABLED.")));
	return conn;
}

/*
 * Sends a statement and waits for the server to start answering; its
 * result, if any, is there to read.  "action" completes "could not ...
 * MySQL server" in the error.
 */
void
pypeline_send_query(SourceConnection *conn, const char *sql, const char *action)
{
	int			err = 0;

	conn->busy = true;
	MYSQL_NONBLOCKING(conn, mysql_real_query_start(&err, conn->mysql, sql, strlen(sql)),
					  mysql_real_query_cont, &err, conn->mysql);
	if (err)
		pypeline_report_mysql_error(conn, action);
}

/*
 * Runs a statement whose result, if any, is not wanted.
 */
void
pypeline_execute(SourceConnection *conn, const char *sql)
{
	pypeline_send_query(conn, sql, "execute statement on");
	if (mysql_field_count(conn->mysql) > 0)
	{
		MYSQL_RES  *res = NULL;

		MYSQL_NONBLOCKING(conn, mysql_store_result_start(&res, conn->mysql),
						  mysql_store_result_cont, &res, conn->mysql);
		if (res)
			mysql_free_result(res);
	}
	conn->busy = false;
}

/* The whole result of a small query ("action" completes its error message). */
MYSQL_RES *
pypeline_store_result(SourceConnection *conn, const char *sql, const char *action)
{
	MYSQL_RES  *res = NULL;

	pypeline_send_query(conn, sql, action);
	MYSQL_NONBLOCKING(conn, mysql_store_result_start(&res, conn->mysql),
					  mysql_store_result_cont, &res, conn->mysql);
	conn->busy = false;
	if (res == NULL)
		pypeline_report_mysql_error(conn, action);
	return res;
}

/*
 * One row of a small query, its columns as strings (NULL for NULL), or NULL
 * when the query returned no row.
 */
char **
pypeline_query_row(SourceConnection *conn, const char *sql, int ncolumns, const char *action)
{
	MYSQL_RES  *res = pypeline_store_result(conn, sql, action);
	MYSQL_ROW	row;
	char	  **values = NULL;

	if ((row = mysql_fetch_row(res)) != NULL && (int) mysql_num_fields(res) >= ncolumns)
	{
		values = palloc0(sizeof(char *) * ncolumns);
		for (int i = 0; i < ncolumns; i++)
			values[i] = row[i] ? pstrdup(row[i]) : NULL;
	}
	mysql_free_result(res);
	return values;
}

/*
 * Kills the statement a connection is running, over a fresh blocking
 * connection whose every wait is bounded by KILL_TIMEOUT.  Called on
 * cleanup paths (error, cancel, backend exit), so it warns instead of
 * raising.
 */
static void
kill_running_statement(SourceConnection *conn)
{
	MYSQL	   *killer = mysql_init(NULL);
	char		sql[64];

	if (killer == NULL)
		return;
	set_client_options(killer, conn->options, Min(KILL_TIMEOUT, conn->options->connect_timeout));
	if (mysql_real_connect(killer, connect_host(conn->options),
						   conn->options->username, conn->options->password,
						   NULL, conn->options->port, conn->options->socket, 0) == NULL)
		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not connect to MySQL server \"%s\" to stop an interrupted query",
						conn->options->server_name),
				 errdetail("MySQL error %u: %s", mysql_errno(killer), mysql_error(killer)),
				 errhint("The query may still be running on the MySQL server as thread %lu.",
						 conn->thread_id)));
	else
	{
		snprintf(sql, sizeof(sql), "KILL %lu", conn->thread_id);
		/* 1094 (unknown thread): it ended by itself meanwhile */
		if (mysql_query(killer, sql) != 0 && mysql_errno(killer) != 1094)
			ereport(WARNING,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not stop an interrupted query on MySQL server \"%s\"",
							conn->options->server_name),
					 errdetail("MySQL error %u: %s", mysql_errno(killer), mysql_error(killer))));
	}
	mysql_close(killer);
}

/*
 * Closes a connection; a statement still running is killed first, so that
 * closing never waits for (or leaves behind) the rest of a large result.
 */
void
pypeline_disconnect(SourceConnection *conn)
{
	MemoryContext cxt = GetMemoryChunkContext(conn);

	dlist_delete(&conn->node);
	if (conn->before_close)
		conn->before_close(conn->before_close_arg);
	if (conn->busy && conn->thread_id != 0)
		kill_running_statement(conn);
	if (conn->result)
	{
		/*
		 * Freeing an unbuffered result reads the rest of it; detached from
		 * its connection, it is only freed.
		 */
		if (conn->busy)
			conn->result->handle = NULL;
		mysql_free_result(conn->result);
	}
	mysql_close(conn->mysql);
	MemoryContextDelete(cxt);
}

static void
close_connections(SubTransactionId subxid)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &open_connections)
	{
		SourceConnection *conn = dlist_container(SourceConnection, node, iter.cur);

		if (subxid == InvalidSubTransactionId || conn->subxid == subxid)
			pypeline_disconnect(conn);
	}
}

static void
xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			close_connections(InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg pg_attribute_unused())
{
	dlist_iter	iter;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		close_connections(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		dlist_foreach(iter, &open_connections)
		{
			SourceConnection *conn = dlist_container(SourceConnection, node, iter.cur);

			if (conn->subxid == mySubid)
				conn->subxid = parentSubid;
		}
	}
}
