/*-------------------------------------------------------------------------
 *
 * convert.c
 *		MySQL column types to PostgreSQL types, and MySQL text-protocol
 *		values to Datums.
 *
 * Each result column gets a ColumnConverter once, when the result arrives,
 * holding the FmgrInfo of the input function it needs, so converting a
 * value does no catalog lookup.  No value is truncated or dropped: what
 * cannot be represented raises an error, and the error context added by
 * source.c names the server, ETL, column and row.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"

/* charsetnr of MySQL's "binary" pseudo character set: bytes, not text */
#define MYSQL_BINARY_CHARSET 63

static const char *
mysql_base_type_name(MYSQL_FIELD *field)
{
	switch (field->type)
	{
		case MYSQL_TYPE_TINY:
			return "tinyint";
		case MYSQL_TYPE_SHORT:
			return "smallint";
		case MYSQL_TYPE_INT24:
			return "mediumint";
		case MYSQL_TYPE_LONG:
			return "int";
		case MYSQL_TYPE_LONGLONG:
			return "bigint";
		case MYSQL_TYPE_DECIMAL:
		case MYSQL_TYPE_NEWDECIMAL:
			return "decimal";
		case MYSQL_TYPE_FLOAT:
			return "float";
		case MYSQL_TYPE_DOUBLE:
			return "double";
		case MYSQL_TYPE_DATE:
		case MYSQL_TYPE_NEWDATE:
			return "date";
		case MYSQL_TYPE_DATETIME:
			return "datetime";
		case MYSQL_TYPE_TIMESTAMP:
			return "timestamp";
		case MYSQL_TYPE_TIME:
			return "time";
		case MYSQL_TYPE_YEAR:
			return "year";
		case MYSQL_TYPE_BIT:
			return "bit";
		case MYSQL_TYPE_JSON:
			return "json";
		case MYSQL_TYPE_ENUM:
			return "enum";
		case MYSQL_TYPE_SET:
			return "set";
		case MYSQL_TYPE_GEOMETRY:
			return "geometry";
		case MYSQL_TYPE_NULL:
			return "null";
		case MYSQL_TYPE_STRING:
			return field->charsetnr == MYSQL_BINARY_CHARSET ? "binary" : "char";
		case MYSQL_TYPE_VAR_STRING:
		case MYSQL_TYPE_VARCHAR:
			return field->charsetnr == MYSQL_BINARY_CHARSET ? "varbinary" : "varchar";
		case MYSQL_TYPE_TINY_BLOB:
		case MYSQL_TYPE_BLOB:
		case MYSQL_TYPE_MEDIUM_BLOB:
		case MYSQL_TYPE_LONG_BLOB:
			return field->charsetnr == MYSQL_BINARY_CHARSET ? "blob" : "text";
		default:
			return "unknown";
	}
}

/* MariaDB sends JSON columns as LONGTEXT with format name "json". */
static bool
is_mariadb_json(MYSQL_FIELD *field)
{
	MARIADB_CONST_STRING attr;

	return mariadb_field_attr(&attr, field, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 &&
		attr.str != NULL && attr.length == 4 && pg_strncasecmp(attr.str, "json", 4) == 0;
}

/*
 * The type whose input function reads the raw text of a column of this
 * kind.  TIMESTAMP arrives as UTC wall time, so it is read as a timestamp
 * whose microseconds are those of the UTC instant.
 */
static Oid
parse_type(ColumnConverter *cc)
{
	if (cc->kind == CONVERT_TIMESTAMP_UTC && cc->result_type == TIMESTAMPTZOID)
		return TIMESTAMPOID;
	return cc->result_type;
}

static void
set_input_function(ColumnConverter *cc)
{
	Oid			typid = parse_type(cc);
	Oid			input_oid;

	getTypeInputInfo(typid, &input_oid, &cc->input_ioparam);
	fmgr_info(input_oid, &cc->input);
	cc->input_typmod = typid == cc->result_type ? cc->result_typmod : -1;
}

static void
map_to(ColumnConverter *cc, ConvertKind kind, Oid typid, int32 typmod)
{
	cc->kind = kind;
	cc->mapped_type = cc->result_type = typid;
	cc->mapped_typmod = cc->result_typmod = typmod;
}

static int32
numeric_typmod(int precision, int scale)
{
	return ((precision << 16) | scale) + VARHDRSZ;
}

/* MySQL's BIT(n) holds 1 to 64 bits. */
#define MYSQL_MAX_BIT_LENGTH 64

/*
 * Chooses the PostgreSQL type of a MySQL result column (doc/design.md,
 * "MySQL to PostgreSQL types").  Column metadata comes from the server and
 * is checked like any other input: a width no MySQL column can have is an
 * error, never a size to allocate.
 */
void
convert_init_column(ColumnConverter *cc, MYSQL_FIELD *field, const SourceOptions *options)
{
	bool		is_unsigned = (field->flags & UNSIGNED_FLAG) != 0;
	bool		is_binary = field->charsetnr == MYSQL_BINARY_CHARSET;

	memset(cc, 0, sizeof(*cc));
	cc->name = pstrdup(field->name ? field->name : "");
	cc->table_column = pstrdup(field->org_name ? field->org_name : "");
	cc->table = pstrdup(field->org_table ? field->org_table : "");
	cc->database = pstrdup(field->db ? field->db : "");
	/* MariaDB flags TIMESTAMP and YEAR unsigned too; only numbers say so */
	cc->mysql_type = psprintf("%s%s", mysql_base_type_name(field),
							  is_unsigned && IS_NUM(field->type) &&
							  field->type != MYSQL_TYPE_YEAR ? " unsigned" : "");

	switch (field->type)
	{
		case MYSQL_TYPE_TINY:
			if (field->length == 1 && options->tinyint1_as_boolean)
			{
				cc->mysql_type = "tinyint(1)";
				map_to(cc, CONVERT_BOOL_FROM_INT, BOOLOID, -1);
			}
			else
				map_to(cc, CONVERT_INPUT_FUNCTION, INT2OID, -1);
			break;
		case MYSQL_TYPE_SHORT:
			map_to(cc, CONVERT_INPUT_FUNCTION, is_unsigned ? INT4OID : INT2OID, -1);
			break;
		case MYSQL_TYPE_INT24:
			map_to(cc, CONVERT_INPUT_FUNCTION, INT4OID, -1);
			break;
		case MYSQL_TYPE_LONG:
			map_to(cc, CONVERT_INPUT_FUNCTION, is_unsigned ? INT8OID : INT4OID, -1);
			break;
		case MYSQL_TYPE_LONGLONG:
			if (is_unsigned)
				map_to(cc, CONVERT_INPUT_FUNCTION, NUMERICOID, numeric_typmod(20, 0));
			else
				map_to(cc, CONVERT_INPUT_FUNCTION, INT8OID, -1);
			break;
		case MYSQL_TYPE_DECIMAL:
		case MYSQL_TYPE_NEWDECIMAL:
			{
				/* display length counts the point and, if signed, the sign */
				int			scale = field->decimals;
				int			precision = (int) field->length - (scale > 0 ? 1 : 0) - (is_unsigned ? 0 : 1);

				if (precision < 1 || precision > 1000 || scale > precision)
					map_to(cc, CONVERT_INPUT_FUNCTION, NUMERICOID, -1);
				else
					map_to(cc, CONVERT_INPUT_FUNCTION, NUMERICOID, numeric_typmod(precision, scale));
				break;
			}
		case MYSQL_TYPE_FLOAT:
			map_to(cc, CONVERT_INPUT_FUNCTION, FLOAT4OID, -1);
			break;
		case MYSQL_TYPE_DOUBLE:
			map_to(cc, CONVERT_INPUT_FUNCTION, FLOAT8OID, -1);
			break;
		case MYSQL_TYPE_DATE:
		case MYSQL_TYPE_NEWDATE:
			map_to(cc, CONVERT_TEMPORAL, DATEOID, -1);
			break;
		case MYSQL_TYPE_DATETIME:
			map_to(cc, CONVERT_TEMPORAL, TIMESTAMPOID, -1);
			break;
		case MYSQL_TYPE_TIMESTAMP:
			map_to(cc, CONVERT_TIMESTAMP_UTC, TIMESTAMPTZOID, -1);
			break;
		case MYSQL_TYPE_TIME:
			map_to(cc, CONVERT_INPUT_FUNCTION, INTERVALOID, -1);
			break;
		case MYSQL_TYPE_YEAR:
			map_to(cc, CONVERT_INPUT_FUNCTION, INT2OID, -1);
			break;
		case MYSQL_TYPE_BIT:
			if (field->length < 1 || field->length > MYSQL_MAX_BIT_LENGTH)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("MySQL server \"%s\" declares column \"%s\" as BIT(%lu)",
								options->server_name, cc->name, field->length),
						 errdetail("A MySQL BIT column holds 1 to %d bits.", MYSQL_MAX_BIT_LENGTH)));
			cc->bit_length = field->length;
			cc->mysql_type = psprintf("bit(%lu)", field->length);
			if (field->length == 1)
				map_to(cc, CONVERT_BOOL_FROM_BIT, BOOLOID, -1);
			else
				map_to(cc, CONVERT_VARBIT, VARBITOID, (int32) field->length);
			break;
		case MYSQL_TYPE_JSON:
			map_to(cc, CONVERT_JSON, JSONBOID, -1);
			break;
		case MYSQL_TYPE_GEOMETRY:
			map_to(cc, CONVERT_BYTEA, BYTEAOID, -1);
			break;
		default:
			if (field->flags & SET_FLAG)
			{
				cc->mysql_type = "set";
				map_to(cc, CONVERT_SET, TEXTARRAYOID, -1);
			}
			else if (field->flags & ENUM_FLAG)
			{
				cc->mysql_type = "enum";
				map_to(cc, CONVERT_TEXT, TEXTOID, -1);
			}
			else if (is_mariadb_json(field))
			{
				cc->mysql_type = "json";
				map_to(cc, CONVERT_JSON, JSONBOID, -1);
			}
			else if (is_binary)
				map_to(cc, CONVERT_BYTEA, BYTEAOID, -1);
			else
				map_to(cc, CONVERT_TEXT, TEXTOID, -1);
			break;
	}
	set_input_function(cc);
}

/*
 * Makes the converter produce another type than the mapped one (the
 * column type a caller declared).  Kinds whose raw text is meaningful feed
 * it to the new type's input function; the others (bytes, bits, sets)
 * convert to the mapped type first and then through its text form.
 */
void
convert_set_result_type(ColumnConverter *cc, Oid typid, int32 typmod)
{
	if (typid == cc->mapped_type && (typmod == cc->mapped_typmod || typmod < 0))
		return;
	cc->result_type = typid;
	cc->result_typmod = typmod;
	switch (cc->kind)
	{
		case CONVERT_BYTEA:
		case CONVERT_BOOL_FROM_BIT:
		case CONVERT_VARBIT:
		case CONVERT_SET:
			{
				Oid			output_oid;
				Oid			input_oid;
				bool		varlena;

				cc->coerce_via_io = true;
				getTypeOutputInfo(cc->mapped_type, &output_oid, &varlena);
				fmgr_info(output_oid, &cc->mapped_output);
				getTypeInputInfo(typid, &input_oid, &cc->result_ioparam);
				fmgr_info(input_oid, &cc->result_input);
				/* the mapped value is built by hand; keep its own input */
				cc->result_type = cc->mapped_type;
				cc->result_typmod = cc->mapped_typmod;
				set_input_function(cc);
				cc->result_type = typid;
				cc->result_typmod = typmod;
				break;
			}
		default:
			set_input_function(cc);
			break;
	}
}

char *
convert_mapped_type_name(ColumnConverter *cc)
{
	return format_type_with_typemod(cc->mapped_type, cc->mapped_typmod);
}

/* 0000-00-00, 2020-00-10, 2020-05-00 (and the same with a time part) */
static bool
is_zero_date(const char *raw, unsigned long len)
{
	if (len < 10 || raw[4] != '-' || raw[7] != '-')
		return false;
	return strncmp(raw, "0000", 4) == 0 ||
		strncmp(raw + 5, "00", 2) == 0 ||
		strncmp(raw + 8, "00", 2) == 0;
}

/* the value of n decimal digits, or -1 if one of them is not a digit */
static inline int
fixed_digits(const char *s, int n)
{
	int			value = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (s[i] - '0');
	}
	return value;
}

/*
 * MySQL sends dates in one fixed form, 'YYYY-MM-DD', and datetimes as that,
 * a space, 'HH:MM:SS' and up to six digits of fraction.  Reading them by
 * position costs a fraction of the general parser of date_in and
 * timestamp_in, which was the biggest share of converting a row.  Anything
 * else, or a field out of range (February 30 from ALLOW_INVALID_DATES), is
 * left to the input function (false), which accepts or refuses it exactly
 * as before.
 */
static bool
mysql_date_fields(const char *raw, unsigned long len, struct pg_tm *tm)
{
	if (len < 10 || raw[4] != '-' || raw[7] != '-')
		return false;
	tm->tm_year = fixed_digits(raw, 4);
	tm->tm_mon = fixed_digits(raw + 5, 2);
	tm->tm_mday = fixed_digits(raw + 8, 2);
	return tm->tm_year >= 1 && tm->tm_mon >= 1 && tm->tm_mon <= MONTHS_PER_YEAR &&
		tm->tm_mday >= 1 && tm->tm_mday <= day_tab[isleap(tm->tm_year)][tm->tm_mon - 1];
}

static bool
mysql_date(const char *raw, unsigned long len, Datum *value)
{
	struct pg_tm tm;

	if (len != 10 || !mysql_date_fields(raw, len, &tm))
		return false;
	/* years 1 to 9999 are all within the range of date */
	*value = DateADTGetDatum(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE);
	return true;
}

static bool
mysql_datetime(const char *raw, unsigned long len, Datum *value)
{
	struct pg_tm tm;
	fsec_t		fsec = 0;
	Timestamp	result;

	if (len < 19 || raw[10] != ' ' || raw[13] != ':' || raw[16] != ':' ||
		!mysql_date_fields(raw, len, &tm))
		return false;
	tm.tm_hour = fixed_digits(raw + 11, 2);
	tm.tm_min = fixed_digits(raw + 14, 2);
	tm.tm_sec = fixed_digits(raw + 17, 2);
	if (tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
		tm.tm_sec < 0 || tm.tm_sec > 59)
		return false;
	if (len > 19)
	{
		int			ndigits = (int) len - 20;

		if (raw[19] != '.' || ndigits < 1 || ndigits > 6 ||
			(fsec = fixed_digits(raw + 20, ndigits)) < 0)
			return false;
		for (int i = ndigits; i < 6; i++)
			fsec *= 10;
	}
	if (tm2timestamp(&tm, fsec, NULL, &result) != 0)
		return false;
	*value = TimestampGetDatum(result);
	return true;
}

/*
 * Checks text from MySQL: a NUL byte cannot be stored in PostgreSQL text
 * (removed if the server has strip_nul, otherwise an error), and the bytes
 * must be valid UTF-8, the connection character set.  Returns the text in
 * the database encoding, NUL-terminated.
 */
static char *
checked_text(const SourceOptions *options, char *raw, unsigned long *len)
{
	char	   *nul = memchr(raw, '\0', *len);

	if (nul != NULL)
	{
		if (!options->strip_nul)
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("text value contains a NUL byte at position %d", (int) (nul - raw) + 1),
					 errhint("PostgreSQL text cannot hold NUL bytes: cast the column to BINARY in the source query to load it as bytea, or set option strip_nul 'true' on the server to remove them.")));
		else
		{
			unsigned long out = 0;

			for (unsigned long in = 0; in < *len; in++)
				if (raw[in] != '\0')
					raw[out++] = raw[in];
			raw[out] = '\0';
			*len = out;
		}
	}
	if (!pg_verify_mbstr(PG_UTF8, raw, (int) *len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("text value is not valid UTF-8"),
				 errhint("Check the column's character set on the MySQL server and the charset option of the server; CONVERT(col USING binary) in the source query loads the raw bytes as bytea.")));
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		char	   *converted = pg_any_to_server(raw, (int) *len, PG_UTF8);

		*len = strlen(converted);
		return converted;
	}
	return raw;
}

/* BIT(n) arrives as ceil(n/8) raw bytes, most significant first */
static char *
bits_as_text(const unsigned char *raw, unsigned long len, unsigned int nbits)
{
	char	   *bits = palloc(nbits + 1);

	for (unsigned int i = 0; i < nbits; i++)
	{
		unsigned int bit_from_right = nbits - 1 - i;
		unsigned long byte_from_right = bit_from_right / 8;
		unsigned char byte = byte_from_right < len ? raw[len - 1 - byte_from_right] : 0;

		bits[i] = (byte >> (bit_from_right % 8)) & 1 ? '1' : '0';
	}
	bits[nbits] = '\0';
	return bits;
}

static Datum
set_as_array(char *raw, unsigned long len)
{
	ArrayBuildState *state = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	char	   *member = raw;

	if (len > 0)
	{
		for (char *p = raw;; p++)
		{
			if (*p == ',' || *p == '\0')
			{
				accumArrayResult(state, PointerGetDatum(cstring_to_text_with_len(member, p - member)),
								 false, TEXTOID, CurrentMemoryContext);
				if (*p == '\0')
					break;
				member = p + 1;
			}
		}
	}
	return makeArrayResult(state, CurrentMemoryContext);
}

/*
 * No value is rounded or cut on the way in: a numeric(p,s) that would round
 * the source's value, a date that would drop a DATETIME's time of day, a
 * timestamp(p) that would drop digits of its fraction are errors (cast in
 * the source query to convert on purpose).  varchar(n), char(n) and the
 * integer types refuse what does not fit by themselves.
 */
static void
require_exact_numeric(ColumnConverter *cc, char *raw, Datum rounded)
{
	Datum		exact = DirectFunctionCall3(numeric_in, CStringGetDatum(raw),
											ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, exact, rounded)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value \"%s\" does not fit %s without rounding", raw,
						format_type_with_typemod(cc->result_type, cc->result_typmod)),
				 errhint("Declare a type with more scale, or round in the source query (ROUND(...)) to convert on purpose.")));
}

/* the digits after the seconds are all zero from position "from" on */
static bool
zeros_from(const char *raw, unsigned long len, unsigned long from)
{
	for (unsigned long i = from; i < len; i++)
		if (raw[i] != '0')
			return false;
	return true;
}

static void
require_exact_temporal(ColumnConverter *cc, const char *raw, unsigned long len)
{
	/* MySQL sends 'YYYY-MM-DD HH:MM:SS[.ffffff]' for DATETIME and TIMESTAMP */
	bool		has_time = len >= 19 && raw[10] == ' ';
	int			precision = cc->result_typmod;

	if (!has_time)
		return;
	if (cc->result_type == DATEOID &&
		!(strncmp(raw + 11, "00:00:00", 8) == 0 && (len == 19 || zeros_from(raw, len, 20))))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				 errmsg("value \"%s\" would lose its time of day as a date", raw),
				 errhint("Declare timestamp, or convert in the source query (CAST(... AS DATE)) to drop the time on purpose.")));
	if ((cc->result_type == TIMESTAMPOID || cc->result_type == TIMESTAMPTZOID) &&
		precision >= 0 && len > 20 && !zeros_from(raw, len, 20 + (unsigned long) precision))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				 errmsg("value \"%s\" would lose digits of its fraction as %s", raw,
						format_type_with_typemod(cc->result_type, cc->result_typmod)),
				 errhint("Declare a timestamp with more precision, or round in the source query.")));
}

/*
 * Converts one value of the text protocol ("raw" is NUL-terminated, "len"
 * bytes long, NULL for SQL NULL) into a Datum of cc->result_type.
 */
Datum
convert_value(ColumnConverter *cc, const SourceOptions *options,
			  char *raw, unsigned long len, bool *isnull)
{
	Datum		value;

	*isnull = (raw == NULL);
	if (raw == NULL)
		return (Datum) 0;

	switch (cc->kind)
	{
		case CONVERT_TEMPORAL:
		case CONVERT_TIMESTAMP_UTC:
			if (is_zero_date(raw, len))
			{
				if (options->zero_dates == ZERO_DATES_NULL)
				{
					*isnull = true;
					return (Datum) 0;
				}
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("zero date \"%s\" has no PostgreSQL equivalent", raw),
						 errhint("Set option zero_dates 'null' on the server to load zero dates as NULL.")));
			}
			require_exact_temporal(cc, raw, len);
			/* a typmod (a caller's timestamp(0)) rounds: input function */
			if (cc->input_typmod < 0 &&
				((parse_type(cc) == DATEOID && mysql_date(raw, len, &value)) ||
				 (parse_type(cc) == TIMESTAMPOID && mysql_datetime(raw, len, &value))))
				break;
			value = InputFunctionCall(&cc->input, raw, cc->input_ioparam, cc->input_typmod);
			break;
		case CONVERT_INPUT_FUNCTION:
			value = InputFunctionCall(&cc->input, raw, cc->input_ioparam, cc->input_typmod);
			if (cc->result_type == NUMERICOID && cc->input_typmod >= 0)
				require_exact_numeric(cc, raw, value);
			break;
		case CONVERT_BOOL_FROM_INT:
			if (cc->result_type == BOOLOID)
				value = BoolGetDatum(strcmp(raw, "0") != 0);
			else
				value = InputFunctionCall(&cc->input, raw, cc->input_ioparam, cc->input_typmod);
			break;
		case CONVERT_TEXT:
		case CONVERT_JSON:
			raw = checked_text(options, raw, &len);
			if (cc->result_type == TEXTOID)
				value = PointerGetDatum(cstring_to_text_with_len(raw, (int) len));
			else
				value = InputFunctionCall(&cc->input, raw, cc->input_ioparam, cc->input_typmod);
			break;
		case CONVERT_BOOL_FROM_BIT:
			value = BoolGetDatum(len > 0 && raw[len - 1] != 0);
			break;
		case CONVERT_VARBIT:
			value = InputFunctionCall(&cc->input, bits_as_text((unsigned char *) raw, len, cc->bit_length),
									  cc->input_ioparam, cc->input_typmod);
			break;
		case CONVERT_BYTEA:
			{
				bytea	   *bytes = palloc(VARHDRSZ + len);

				SET_VARSIZE(bytes, VARHDRSZ + len);
				memcpy(VARDATA(bytes), raw, len);
				value = PointerGetDatum(bytes);
				break;
			}
		case CONVERT_SET:
			raw = checked_text(options, raw, &len);
			value = set_as_array(raw, len);
			break;
		default:
			elog(ERROR, "unexpected conversion kind %d", (int) cc->kind);
	}

	if (cc->coerce_via_io)
		value = InputFunctionCall(&cc->result_input,
								  OutputFunctionCall(&cc->mapped_output, value),
								  cc->result_ioparam, cc->result_typmod);
	return value;
}
