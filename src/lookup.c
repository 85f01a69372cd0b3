/*-------------------------------------------------------------------------
 *
 * lookup.c
 *		A dimension's keys held in memory for one fact load, so that facts
 *		find their surrogate keys as they stream from the source instead of
 *		through a staging table and a join (fact.c, fill_new_facts).
 *
 * The cache is read once from the dimension's table, in batches, into a
 * hash of natural key -> member; each member has its versions, for a
 * lookup as of an event time.  It answers exactly what the join would: the
 * key types' own hash and equality functions (built-in types only, so no
 * other role's code runs; a single int4 or int8 key is hashed and compared
 * inline, the same equality without a function call per probe),
 * [valid_from, valid_to) for versions, each version's fields together.  It is
 * built only when it fits the memory it is given (pypeline.lookup_memory
 * for all the lookups of a load), and refused when the
 * join would match a fact twice (a key given twice, versions that
 * overlap): the caller then joins, as it always did.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#define PROBE_MEMBER PG_UINT32_MAX	/* the key being looked up, not a member */

/* A version of a member: the fields a lookup reads, together in memory. */
typedef struct LookupVersion
{
	TimestampTz valid_from;		/* as_of only */
	TimestampTz valid_to;
	int64		surrogate;
	uint32		next;			/* the member's next version, PROBE_MEMBER at its end */
} LookupVersion;

/* How keys are hashed and compared. */
typedef enum LookupKeyKind
{
	KEYS_BY_FUNCTION,			/* the types' own functions */
	KEY_INT4,					/* one int4 or int8 key: its value, inline */
	KEY_INT8
} LookupKeyKind;

typedef struct LookupEntry
{
	uint32		member;
	uint32		hash;
	char		status;
} LookupEntry;

struct LookupCache
{
	MemoryContext context;
	int			nkeys;
	FmgrInfo   *hash_procs;
	FmgrInfo   *eq_procs;
	Oid		   *collations;
	int16	   *typlens;
	bool	   *typbyvals;
	bool		as_of;
	LookupKeyKind key_kind;
	struct lookuphash_hash *members;
	Datum	   *member_keys;	/* nkeys per member */
	uint32	   *member_head;	/* its first version */
	uint32		nmembers;
	LookupVersion *versions;
	uint32		nversions;
	const Datum *probe;			/* the key being looked up */
};

static inline Datum
key_of(LookupCache *cache, uint32 member, int k)
{
	return member == PROBE_MEMBER ? cache->probe[k] : cache->member_keys[(Size) member * cache->nkeys + k];
}

static inline uint32
hash_member(LookupCache *cache, uint32 member)
{
	uint32		hash = 0;

	/* the common integer key without a function call per probe */
	if (cache->key_kind == KEY_INT4)
		return murmurhash32((uint32) DatumGetInt32(key_of(cache, member, 0)));
	if (cache->key_kind == KEY_INT8)
	{
		uint64		value = (uint64) DatumGetInt64(key_of(cache, member, 0));

		return murmurhash32((uint32) value ^ murmurhash32((uint32) (value >> 32)));
	}
	for (int k = 0; k < cache->nkeys; k++)
		hash = hash_combine(hash, DatumGetUInt32(FunctionCall1Coll(&cache->hash_procs[k], cache->collations[k],
																	key_of(cache, member, k))));
	return hash;
}

static inline bool
members_equal(LookupCache *cache, uint32 a, uint32 b)
{
	if (cache->key_kind == KEY_INT4)
		return DatumGetInt32(key_of(cache, a, 0)) == DatumGetInt32(key_of(cache, b, 0));
	if (cache->key_kind == KEY_INT8)
		return DatumGetInt64(key_of(cache, a, 0)) == DatumGetInt64(key_of(cache, b, 0));
	for (int k = 0; k < cache->nkeys; k++)
		if (!DatumGetBool(FunctionCall2Coll(&cache->eq_procs[k], cache->collations[k],
											key_of(cache, a, k), key_of(cache, b, k))))
			return false;
	return true;
}

#define SH_PREFIX lookuphash
#define SH_ELEMENT_TYPE LookupEntry
#define SH_KEY_TYPE uint32
#define SH_KEY member
#define SH_HASH_KEY(tb, key) hash_member((LookupCache *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b) members_equal((LookupCache *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The memory a cache of "rows" versions would take at least, in bytes. */
static double
estimated_size(uint64 rows, int nkeys)
{
	/* a hash entry per member (about 2 slots at its fill factor), keys, versions */
	double		per_row = 2 * sizeof(LookupEntry) + nkeys * sizeof(Datum) + sizeof(uint32) +
		sizeof(LookupVersion);

	return per_row * (double) rows;
}

/* The memory a cache holds, in bytes. */
Size
lookup_cache_memory(LookupCache *cache)
{
	return MemoryContextMemAllocated(cache->context, true);
}

/* Adds one row of the dimension: false if the join would match it twice. */
static bool
add_version(LookupCache *cache, Datum *keys, int64 surrogate, TimestampTz from, TimestampTz to)
{
	LookupEntry *entry;
	bool		found;
	uint32		v = cache->nversions++;

	cache->probe = keys;
	entry = lookuphash_insert(cache->members, PROBE_MEMBER, &found);
	if (!found)
	{
		uint32		m = cache->nmembers++;

		/* a table's value may be compressed or toasted: keep it whole */
		for (int k = 0; k < cache->nkeys; k++)
			cache->member_keys[(Size) m * cache->nkeys + k] = cache->typlens[k] == -1 ?
				PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(keys[k]))) :
				datumCopy(keys[k], cache->typbyvals[k], cache->typlens[k]);
		entry->member = m;
		cache->member_head[m] = PROBE_MEMBER;
	}
	else if (!cache->as_of)
		return false;
	else
	{
		for (uint32 o = cache->member_head[entry->member]; o != PROBE_MEMBER; o = cache->versions[o].next)
			if (from < cache->versions[o].valid_to && cache->versions[o].valid_from < to)
				return false;
	}
	cache->versions[v].surrogate = surrogate;
	cache->versions[v].valid_from = from;
	cache->versions[v].valid_to = to;
	cache->versions[v].next = cache->member_head[entry->member];
	cache->member_head[entry->member] = v;
	return true;
}

/*
 * Reads the dimension's rows returned by sql (the nkeys natural key columns
 * of key_types, never NULL; the surrogate key as bigint; for as_of,
 * valid_from and valid_to) into a cache in a child of the current memory
 * context.  rows is how many sql returns at most.  NULL, with nothing kept,
 * when a key type has no hashing of its own, the cache would need more than
 * budget bytes or the join would match a fact twice.
 */
LookupCache *
lookup_cache_build(const char *sql, uint64 rows, int nkeys, Oid *key_types, Oid *collations, bool as_of,
				   Size budget)
{
	MemoryContext context;
	MemoryContext oldcxt;
	LookupCache *cache;
	Portal		portal;
	bool		usable = true;

	if (rows >= PG_UINT32_MAX ||
		estimated_size(rows, nkeys) > (double) budget)
		return NULL;
	for (int k = 0; k < nkeys; k++)
	{
		TypeCacheEntry *type = lookup_type_cache(key_types[k], TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);

		if (key_types[k] >= FirstNormalObjectId || !OidIsValid(type->hash_proc) || !OidIsValid(type->eq_opr))
			return NULL;
	}

	context = AllocSetContextCreate(CurrentMemoryContext, "pypeline dimension lookup", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(context);
	cache = palloc0(sizeof(LookupCache));
	cache->context = context;
	cache->nkeys = nkeys;
	cache->as_of = as_of;
	cache->hash_procs = palloc(sizeof(FmgrInfo) * nkeys);
	cache->eq_procs = palloc(sizeof(FmgrInfo) * nkeys);
	cache->collations = palloc(sizeof(Oid) * nkeys);
	cache->typlens = palloc(sizeof(int16) * nkeys);
	cache->typbyvals = palloc(sizeof(bool) * nkeys);
	for (int k = 0; k < nkeys; k++)
	{
		TypeCacheEntry *type = lookup_type_cache(key_types[k], TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);

		fmgr_info_copy(&cache->hash_procs[k], &type->hash_proc_finfo, context);
		fmgr_info_copy(&cache->eq_procs[k], &type->eq_opr_finfo, context);
		cache->collations[k] = collations[k];
		cache->typlens[k] = type->typlen;
		cache->typbyvals[k] = type->typbyval;
	}
	/* int4 and int8 equality is equality of the values: hash them inline */
	if (nkeys == 1 && key_types[0] == INT4OID)
		cache->key_kind = KEY_INT4;
	else if (nkeys == 1 && key_types[0] == INT8OID)
		cache->key_kind = KEY_INT8;
	rows = Max(rows, 1);
	cache->member_keys = palloc_extended(sizeof(Datum) * nkeys * rows, MCXT_ALLOC_HUGE);
	cache->member_head = palloc_extended(sizeof(uint32) * rows, MCXT_ALLOC_HUGE);
	cache->versions = palloc_extended(sizeof(LookupVersion) * rows, MCXT_ALLOC_HUGE);
	cache->members = lookuphash_create(context, rows, cache);
	MemoryContextSwitchTo(oldcxt);

	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL, false, 0);
	while (usable)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		oldcxt = MemoryContextSwitchTo(context);
		for (uint64 i = 0; i < SPI_processed && usable; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Datum		keys[INDEX_MAX_KEYS];
			bool		isnull;
			int64		surrogate;
			TimestampTz from = 0;
			TimestampTz to = 0;

			/* the query returns no more rows than counted, unless the table grew */
			usable = cache->nversions < rows;
			for (int k = 0; k < nkeys && usable; k++)
			{
				keys[k] = SPI_getbinval(tuple, desc, k + 1, &isnull);
				usable = !isnull;
			}
			if (!usable)
				break;
			surrogate = DatumGetInt64(SPI_getbinval(tuple, desc, nkeys + 1, &isnull));
			if (as_of)
			{
				from = DatumGetTimestampTz(SPI_getbinval(tuple, desc, nkeys + 2, &isnull));
				to = DatumGetTimestampTz(SPI_getbinval(tuple, desc, nkeys + 3, &isnull));
			}
			usable = add_version(cache, keys, surrogate, from, to);
		}
		MemoryContextSwitchTo(oldcxt);
		SPI_freetuptable(SPI_tuptable);
		usable = usable && lookup_cache_memory(cache) <= budget;
	}
	SPI_cursor_close(portal);
	if (!usable)
	{
		MemoryContextDelete(context);
		return NULL;
	}
	return cache;
}

/*
 * The surrogate key of the member with these key values (of the key types,
 * none NULL), of its version valid at "at" for an as-of cache; false if
 * there is none.
 */
bool
lookup_cache_find(LookupCache *cache, const Datum *keys, TimestampTz at, int64 *surrogate)
{
	LookupEntry *entry;

	cache->probe = keys;
	entry = lookuphash_lookup(cache->members, PROBE_MEMBER);
	if (entry == NULL)
		return false;
	for (uint32 v = cache->member_head[entry->member]; v != PROBE_MEMBER; v = cache->versions[v].next)
	{
		LookupVersion *version = &cache->versions[v];

		if (!cache->as_of || (version->valid_from <= at && at < version->valid_to))
		{
			*surrogate = version->surrogate;
			return true;
		}
	}
	return false;
}

/* Frees a cache. */
void
lookup_cache_free(LookupCache *cache)
{
	MemoryContextDelete(cache->context);
}
