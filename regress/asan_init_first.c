/*
 * make check SANITIZE=1 preloads the ASan runtime into PostgreSQL, which is
 * not instrumented itself.  ASan then initializes on the first malloc, and
 * on Debian 12 that happens inside a constructor of one of PostgreSQL's
 * libraries (libgpg-error's bindtextdomain, p11-kit's newlocale) while it
 * holds a glibc locale lock; ASan's initialization takes the same lock, and
 * the process hangs.  This library, preloaded after the runtime and linked
 * with -z initfirst, runs its constructor before all others: its malloc
 * initializes ASan while no lock is held.
 */
#include <stdlib.h>

__attribute__((constructor)) static void
asan_init_first(void)
{
	void	   *volatile p = malloc(1);

	free(p);
}
