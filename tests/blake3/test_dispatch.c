/*
 * test_dispatch.c - choosing the SIMD level: the level detected agrees with
 * the CPU flags the kernel reports in /proc/cpuinfo; names parse and print;
 * bad names are refused with B3CAS_EINVAL and a message naming them;
 * forcing works and never goes above the CPU; B3CAS_SIMD is honoured at
 * the first hash of a child process (this program run again), and a bad
 * value falls back to the best level. Single blocks run in scalar code on
 * AMD family 1Ah and on rows elsewhere, and B3CAS_SINGLE_BLOCK overrides
 * that.
 */
#include "test_util.h"

#include "blake3/blake3_int.h"

#include <sys/wait.h>
#include <unistd.h>

static const char *self;

/* The level /proc/cpuinfo's flags allow (an independent opinion). */
static int level_from_cpuinfo(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	int level = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		level = 0;
		if (strstr(line, " sse4_1"))
			level = 1;
		if (level == 1 && strstr(line, " avx2"))
			level = 2;
		if (level == 2 && strstr(line, " avx512f") &&
		    strstr(line, " avx512vl"))
			level = 3;
		break;
	}
	fclose(f);
	return level;
}

static void test_detected_matches_cpuinfo(void **state)
{
	(void)state;
	assert_int_equal((int)b3cas_simd_detected(), level_from_cpuinfo());
	fprintf(stderr, "detected: %s\n",
		b3cas_simd_level_name(b3cas_simd_detected()));
}

static void test_names(void **state)
{
	static const char *names[] = {"portable", "sse41", "avx2", "avx512"};
	static const char *bad[] = {
		"AVX512", "Portable", "", "sse4.1", "sse4_1", "avx",
		"avx5120", "avx2 ", " avx2", "avx51", "neon", "best",
	};
	b3cas_simd level;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(b3cas_simd_parse(&level, names[i]), 0);
		assert_int_equal((int)level, i);
		assert_string_equal(b3cas_simd_level_name(level), names[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		level = (b3cas_simd)77;
		if (b3cas_simd_parse(&level, bad[i]) != B3CAS_EINVAL)
			fail_msg("b3cas_simd_parse accepted \"%s\"", bad[i]);
		/* the message names what was rejected */
		assert_non_null(strstr(b3cas_error_last(), bad[i]));
		assert_int_equal((int)level, 77); /* untouched */
	}
	assert_int_equal(b3cas_simd_parse(&level, NULL), B3CAS_EINVAL);
	assert_non_null(b3cas_error_last());
	assert_null(b3cas_simd_level_name((b3cas_simd)4));
	assert_null(b3cas_simd_level_name((b3cas_simd)-1));
	fprintf(stderr, "names: 4 accepted, %zu rejected\n",
		sizeof(bad) / sizeof(bad[0]) + 1);
}

static void test_force(void **state)
{
	int best = (int)b3cas_simd_detected();

	(void)state;
	for (int level = 0; level <= 3; level++) {
		int rc = b3cas_simd_force((b3cas_simd)level);

		if (level <= best) {
			assert_int_equal(rc, 0);
			assert_string_equal(b3cas_simd_name(),
				b3cas_simd_level_name((b3cas_simd)level));
		} else {
			assert_int_equal(rc, B3CAS_EUNSUPPORTED);
			/* nothing changed */
			assert_int_equal((int)b3cas_simd_active(), best);
		}
	}
	assert_int_equal(b3cas_simd_force((b3cas_simd)7), B3CAS_EINVAL);
	tu_force(best);
}

/* Run this test binary as a child with one variable set (or unset if
 * value is NULL) and the given flag; returns the number it prints. */
static int child_run(const char *var, const char *value, const char *flag)
{
	int fds[2], status;
	char buf[32] = {0};
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		if (value)
			setenv(var, value, 1);
		else
			unsetenv(var);
		execl(self, self, flag, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	assert_true(read(fds[0], buf, sizeof(buf) - 1) > 0);
	close(fds[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return atoi(buf);
}

static int child_level(const char *env)
{
	return child_run("B3CAS_SIMD", env, "--print-level");
}

/* An independent opinion on the rule: AMD, cpu family 26 or later. */
static bool cpuinfo_amd_zen5(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	bool amd = false;
	int family = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "vendor_id", 9) == 0)
			amd = strstr(line, "AuthenticAMD") != NULL;
		if (strncmp(line, "cpu family", 10) == 0) {
			family = atoi(strchr(line, ':') + 1);
			break;
		}
	}
	fclose(f);
	return amd && family >= 26;
}

static void test_single_block_choice(void **state)
{
	int best = (int)b3cas_simd_detected();

	(void)state;
	if (best == 0) /* portable is scalar either way */
		return;
	assert_int_equal(child_run("B3CAS_SINGLE_BLOCK", "scalar",
				   "--print-single"), 1);
	assert_int_equal(child_run("B3CAS_SINGLE_BLOCK", "vector",
				   "--print-single"), 0);
	assert_int_equal(child_run("B3CAS_SINGLE_BLOCK", NULL,
				   "--print-single"),
			 cpuinfo_amd_zen5() ? 1 : 0);
}

static void test_environment(void **state)
{
	static const char *names[] = {"portable", "sse41", "avx2", "avx512"};
	static const char *bogus[] = {"bogus", "", "AVX2", "avx2x"};
	int best = (int)b3cas_simd_detected();
	int children = 0;

	(void)state;
	assert_int_equal(child_level(NULL), best);
	children++;
	for (int i = 0; i < 4; i++, children++)
		if (child_level(bogus[i]) != best)
			fail_msg("B3CAS_SIMD=\"%s\" did not give the best "
				 "level", bogus[i]);
	/* each level, but never above the CPU's best */
	for (int level = 0; level <= 3; level++, children++)
		if (child_level(names[level]) != (level < best ? level : best))
			fail_msg("B3CAS_SIMD=%s gave the wrong level",
				 names[level]);
	fprintf(stderr, "B3CAS_SIMD: %d child processes\n", children);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detected_matches_cpuinfo),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_single_block_choice),
	};

	if (argc == 2 && strcmp(argv[1], "--print-single") == 0) {
		const b3_kernels *k = b3_kernels_for(b3cas_simd_detected());

		printf("%d\n", k->compress == b3_portable_compress &&
				      k->chunk == b3_portable_chunk);
		return 0;
	}

	if (argc == 2 && strcmp(argv[1], "--print-level") == 0) {
		uint8_t got[32], want[32];

		/* the level the first hash picked, and a hash that is right
		 * at that level (the official vector of the empty input) */
		b3cas_hash(got, "", 0);
		tu_hex_decode(want, "af1349b9f5f9a1a6a0404dea36dcc949"
				    "9bcb25c9adc112b7cc9a93cae41f3262", 32);
		if (memcmp(got, want, 32) != 0)
			return 2;
		printf("%d\n", (int)b3cas_simd_active());
		return 0;
	}
	self = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
