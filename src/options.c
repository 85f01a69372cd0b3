/*-------------------------------------------------------------------------
 *
 * options.c
 *		Validator of the pypeline_mysql foreign-data wrapper, and resolution
 *		of a server name into the options a connection needs.
 *
 * Secrets (username, password) are accepted only on user mappings, so that
 * they are visible only to the mapped role and superusers, as with
 * postgres_fdw.  Likewise, a non-superuser's connection must authenticate
 * with the mapping's password: it may not use a unix socket, over which
 * MariaDB's unix_socket plugin would take it for the PostgreSQL server's OS
 * user whatever the password, unless a superuser set password_required
 * 'false' on the mapping.
 *
 * Calls pypeline.c (its settings).
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

typedef struct ValidOption
{
	const char *name;
	Oid			context;		/* catalog where the option may appear */
} ValidOption;

static const ValidOption valid_options[] = {
	{"host", ForeignServerRelationId},
	{"port", ForeignServerRelationId},
	{"socket", ForeignServerRelationId},
	{"dbname", ForeignServerRelationId},
	{"charset", ForeignServerRelationId},
	{"ssl_mode", ForeignServerRelationId},
	{"ssl_ca", ForeignServerRelationId},
	{"ssl_cert", ForeignServerRelationId},
	{"ssl_key", ForeignServerRelationId},
	{"connect_timeout", ForeignServerRelationId},
	{"read_timeout", ForeignServerRelationId},
	{"fetch_size", ForeignServerRelationId},
	{"tinyint1_as_boolean", ForeignServerRelationId},
	{"zero_dates", ForeignServerRelationId},
	{"strip_nul", ForeignServerRelationId},
	{"username", UserMappingRelationId},
	{"password", UserMappingRelationId},
	{"password_required", UserMappingRelationId},
	{NULL, InvalidOid}
};

static const char *const ssl_modes[] = {
	"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY", NULL
};

static bool
is_valid_option(const char *name, Oid context)
{
	for (const ValidOption *opt = valid_options; opt->name; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	return false;
}

static char *
valid_option_list(Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const ValidOption *opt = valid_options; opt->name; opt++)
	{
		if (opt->context != context)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, opt->name);
	}
	return buf.data;
}

static int
int_option(DefElem *def, int min, int max)
{
	char	   *value = defGetString(def);
	char	   *end;
	long		result;

	errno = 0;
	result = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || result < min || result > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
				 errhint("Use an integer between %d and %d.", min, max)));
	return (int) result;
}

static bool
bool_option(DefElem *def)
{
	bool		result;

	if (!parse_bool(defGetString(def), &result))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, defGetString(def)),
				 errhint("Use true or false.")));
	return result;
}

static ZeroDatePolicy
zero_dates_option(DefElem *def)
{
	char	   *value = defGetString(def);

	if (pg_strcasecmp(value, "null") == 0)
		return ZERO_DATES_NULL;
	if (pg_strcasecmp(value, "error") == 0)
		return ZERO_DATES_ERROR;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"zero_dates\": \"%s\"", value),
			 errhint("Use null or error.")));
	pg_unreachable();
}

/*
 * MySQL converts every text column from its own character set to the
 * connection's, so asking for UTF-8 makes latin1 and other columns arrive
 * as valid UTF-8; convert.c relies on that.
 */
static char *
charset_option(DefElem *def)
{
	char	   *value = defGetString(def);

	if (pg_strcasecmp(value, "utf8mb4") == 0 || pg_strcasecmp(value, "utf8mb3") == 0 ||
		pg_strcasecmp(value, "utf8") == 0)
		return value;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"charset\": \"%s\"", value),
			 errdetail("pypeline reads text as UTF-8; MySQL converts columns of other character sets."),
			 errhint("Use utf8mb4 (the default), utf8mb3 or utf8.")));
	pg_unreachable();
}

static char *
ssl_mode_option(DefElem *def)
{
	char	   *value = defGetString(def);

	for (int i = 0; ssl_modes[i]; i++)
		if (pg_strcasecmp(value, ssl_modes[i]) == 0)
			return pstrdup(ssl_modes[i]);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"ssl_mode\": \"%s\"", value),
			 errhint("Use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY.")));
	pg_unreachable();
}

/*
 * Applies one option to *opts, checking its value.  Shared by the validator
 * (opts is a scratch struct) and by option resolution, so a value accepted at
 * CREATE SERVER time is exactly a value used at connect time.
 */
static void
apply_option(SourceOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "host") == 0)
		opts->host = defGetString(def);
	else if (strcmp(name, "port") == 0)
		opts->port = int_option(def, 1, 65535);
	else if (strcmp(name, "socket") == 0)
		opts->socket = defGetString(def);
	else if (strcmp(name, "dbname") == 0)
		opts->dbname = defGetString(def);
	else if (strcmp(name, "charset") == 0)
		opts->charset = charset_option(def);
	else if (strcmp(name, "ssl_mode") == 0)
		opts->ssl_mode = ssl_mode_option(def);
	else if (strcmp(name, "ssl_ca") == 0)
		opts->ssl_ca = defGetString(def);
	else if (strcmp(name, "ssl_cert") == 0)
		opts->ssl_cert = defGetString(def);
	else if (strcmp(name, "ssl_key") == 0)
		opts->ssl_key = defGetString(def);
	else if (strcmp(name, "connect_timeout") == 0)
		opts->connect_timeout = int_option(def, 1, 86400);
	else if (strcmp(name, "read_timeout") == 0)
		opts->read_timeout = int_option(def, 1, 86400 * 7);
	else if (strcmp(name, "fetch_size") == 0)
		opts->fetch_size = int_option(def, 1, 1000000);
	else if (strcmp(name, "tinyint1_as_boolean") == 0)
		opts->tinyint1_as_boolean = bool_option(def);
	else if (strcmp(name, "zero_dates") == 0)
		opts->zero_dates = zero_dates_option(def);
	else if (strcmp(name, "strip_nul") == 0)
		opts->strip_nul = bool_option(def);
	else if (strcmp(name, "username") == 0)
		opts->username = defGetString(def);
	else if (strcmp(name, "password") == 0)
		opts->password = defGetString(def);
	else if (strcmp(name, "password_required") == 0)
		opts->password_required = bool_option(def);
}

static void
set_defaults(SourceOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->host = "127.0.0.1";
	opts->port = 3306;
	opts->charset = "utf8mb4";
	opts->ssl_mode = "PREFERRED";
	opts->connect_timeout = 10;
	opts->read_timeout = 3600;
	opts->fetch_size = pypeline_default_fetch_size;
	opts->tinyint1_as_boolean = true;
	opts->zero_dates = ZERO_DATES_NULL;
	opts->strip_nul = false;
	opts->password_required = true;
}

PG_FUNCTION_INFO_V1(pypeline_mysql_validator);

/*
 * Validates options of CREATE/ALTER FOREIGN DATA WRAPPER, SERVER and USER
 * MAPPING for pypeline_mysql.
 */
Datum
pypeline_mysql_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			context = PG_GETARG_OID(1);
	SourceOptions scratch;
	ListCell   *lc;

	set_defaults(&scratch);
	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (!is_valid_option(def->defname, context))
		{
			char	   *valid = valid_option_list(context);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 *valid ? errhint("Valid options in this context are: %s.", valid)
					 : errhint("There are no valid options in this context."),
					 (context == ForeignServerRelationId &&
					  is_valid_option(def->defname, UserMappingRelationId)) ?
					 errdetail("Credentials belong in CREATE USER MAPPING, where only the mapped role can read them.") : 0));
		}
		apply_option(&scratch, def);
		if (strcmp(def->defname, "password_required") == 0 && !scratch.password_required && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("password_required 'false' is superuser-only"),
					 errhint("User mappings with password_required set to false may only be created or modified by a superuser.")));
	}
	PG_RETURN_VOID();
}

/*
 * Resolves a server name into connection options for the current user:
 * checks USAGE on the server, finds the user mapping, and insists that a
 * non-superuser supplies a password (otherwise they could borrow the
 * identity of the PostgreSQL server's OS user over a unix socket).
 */
SourceOptions *
pypeline_get_source_options(const char *server_name)
{
	ForeignServer *server = GetForeignServerByName(server_name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	UserMapping *mapping;
	SourceOptions *opts = palloc(sizeof(SourceOptions));
	AclResult	aclresult;
	ListCell   *lc;

	if (strcmp(fdw->fdwname, "pypeline_mysql") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("server \"%s\" does not use the pypeline_mysql foreign-data wrapper", server_name),
				 errhint("Create it with CREATE SERVER ... FOREIGN DATA WRAPPER pypeline_mysql.")));

	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	mapping = GetUserMapping(GetUserId(), server->serverid);

	set_defaults(opts);
	opts->server_name = pstrdup(server->servername);
	opts->serverid = server->serverid;
	foreach(lc, server->options)
		apply_option(opts, lfirst_node(DefElem, lc));
	foreach(lc, mapping->options)
		apply_option(opts, lfirst_node(DefElem, lc));

	if (opts->username == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" has no username", server_name),
				 errhint("ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD username '...').",
						 quote_identifier(server_name))));
	/* superusers, and mappings a superuser exempted, may use any authentication */
	opts->password_required = opts->password_required && !superuser();
	if (opts->password_required && (opts->password == NULL || opts->password[0] == '\0'))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required for server \"%s\"", server_name),
				 errdetail("Non-superusers must give a password in the user mapping."),
				 errhint("ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD password '...').",
						 quote_identifier(server_name))));
	if (opts->password_required && opts->socket)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("non-superusers cannot connect to MySQL server \"%s\" over its unix socket", server_name),
				 errdetail("Over the socket, MariaDB's unix_socket authentication would take the connection for the PostgreSQL server's operating-system user, whatever the password."),
				 errhint("Give the server a host and port, or have a superuser set password_required 'false' on the user mapping.")));
	return opts;
}

#define STRING_OPTIONS 11

/* The addresses of the options that are strings. */
static void
string_options(SourceOptions *opts, char **fields[STRING_OPTIONS])
{
	fields[0] = &opts->server_name;
	fields[1] = &opts->host;
	fields[2] = &opts->socket;
	fields[3] = &opts->dbname;
	fields[4] = &opts->charset;
	fields[5] = &opts->ssl_mode;
	fields[6] = &opts->ssl_ca;
	fields[7] = &opts->ssl_cert;
	fields[8] = &opts->ssl_key;
	fields[9] = &opts->username;
	fields[10] = &opts->password;
}

/*
 * Resolved options as one block of bytes (the struct, then each string
 * after a byte that says whether it is set), for a process that must
 * connect with exactly these (split.c's readers, through shared memory);
 * pypeline_options_unflatten reads it back.
 */
char *
pypeline_options_flatten(const SourceOptions *opts, Size *len)
{
	SourceOptions copy = *opts;
	char	  **fields[STRING_OPTIONS];
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &copy, sizeof(copy));
	string_options(&copy, fields);
	for (int i = 0; i < STRING_OPTIONS; i++)
	{
		appendStringInfoChar(&buf, *fields[i] ? 1 : 0);
		if (*fields[i])
			appendBinaryStringInfo(&buf, *fields[i], strlen(*fields[i]) + 1);
	}
	*len = buf.len;
	return buf.data;
}

SourceOptions *
pypeline_options_unflatten(const char *flat)
{
	SourceOptions *opts = palloc(sizeof(SourceOptions));
	char	  **fields[STRING_OPTIONS];
	const char *p = flat + sizeof(SourceOptions);

	memcpy(opts, flat, sizeof(SourceOptions));
	string_options(opts, fields);
	for (int i = 0; i < STRING_OPTIONS; i++)
	{
		*fields[i] = NULL;
		if (*p++)
		{
			*fields[i] = pstrdup(p);
			p += strlen(p) + 1;
		}
	}
	return opts;
}
