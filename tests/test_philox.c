/*
 * Tests of src/kernels/philox.h: the Philox4x32-10 block function against
 * published known-answer vectors, the documented mapping of a draw to a
 * counter and key, and the statistics of uniform and normal draws.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/philox.h"

typedef struct kat_row {
    uint32_t ctr[4];
    uint32_t key[2];
    uint32_t expected[4];
} kat_row;

/*
 * Philox4x32-10 rows of the known-answer file kat_vectors of the Random123
 * library (D. E. Shaw Research): counter, key, expected output.
 */
static const kat_row kat_rows[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    {{0x00000001, 0x00000000, 0x00000000, 0x00000000},
     {0x00000001, 0x00000000},
     {0xac08141b, 0xdfc5ccbe, 0x79c07a47, 0xa7f66093}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0x00000000, 0xffffffff},
     {0x08f7720c, 0x845ee9e0, 0x502ccd3d, 0xa9a00e27}},
};

#define N_KAT_ROWS ((int)(sizeof(kat_rows) / sizeof(kat_rows[0])))
#define N_DRAWS 1000000

START_TEST(kat_array_form)
{
    const kat_row *row = &kat_rows[_i];
    uint32_t out[4];

    rg_philox4x32_10(row->ctr, row->key, out);
    for (int w = 0; w < 4; w++) {
        ck_assert_msg(out[w] == row->expected[w],
                      "row %d word %d: got %08x, expected %08x", _i, w,
                      (unsigned)out[w], (unsigned)row->expected[w]);
    }
}
END_TEST

START_TEST(kat_block_form)
{
    const kat_row *row = &kat_rows[_i];
    rg_philox_u4 ctr;
    rg_philox_u4 out;

    for (int w = 0; w < 4; w++) {
        ctr.v[w] = row->ctr[w];
    }
    out = rg_philox4x32_10_block(ctr, row->key[0], row->key[1]);
    for (int w = 0; w < 4; w++) {
        ck_assert_msg(out.v[w] == row->expected[w],
                      "row %d word %d: got %08x, expected %08x", _i, w,
                      (unsigned)out.v[w], (unsigned)row->expected[w]);
    }
}
END_TEST

START_TEST(kat_output_aliases_counter)
{
    const kat_row *row = &kat_rows[2];
    uint32_t buf[4];

    for (int w = 0; w < 4; w++) {
        buf[w] = row->ctr[w];
    }
    rg_philox4x32_10(buf, row->key, buf);
    for (int w = 0; w < 4; w++) {
        ck_assert_uint_eq(buf[w], row->expected[w]);
    }
}
END_TEST

/*
 * The counter and key layout stated in the header: uniform draw `index`
 * is word (index & 3) of block index >> 2. Checked for all four words.
 */
START_TEST(uniform_uses_documented_mapping)
{
    const uint64_t seed = 0x0123456789abcdefULL;
    const uint64_t step = 0x0000000500000007ULL;
    const uint32_t stream = 0xdeadbeef;
    const uint64_t block = 0x000000020000002aULL;
    uint32_t ctr[4] = {0x0000002a, 0x00000002, stream, 0x00000007};
    uint32_t key[2] = {0x89abcdef, 0x01234567u ^ 0x00000005u};
    uint32_t out[4];

    rg_philox4x32_10(ctr, key, out);
    for (uint64_t w = 0; w < 4; w++) {
        float expected = (float)(out[w] >> 8) * 0x1p-24f;
        ck_assert_float_eq(rg_philox_uniform(seed, step, stream,
                                             4 * block + w),
                           expected);
    }
}
END_TEST

/* Box-Muller on words 0 and 1, recomputed in double, to float tolerance. */
START_TEST(normal_uses_words_0_and_1)
{
    const uint64_t seed = 99;
    double worst = 0.0;

    for (uint64_t i = 0; i < 1000; i++) {
        rg_philox_u4 b = rg_philox_draw_block(seed, 3, 11, i);
        double u1 = ((b.v[0] >> 8) + 1.0) * 0x1p-24;
        double u2 = (b.v[1] >> 8) * 0x1p-24;
        double ref = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        double got = rg_philox_normal(seed, 3, 11, i);
        double err = fabs(got - ref);

        if (err > worst) {
            worst = err;
        }
        ck_assert_msg(err <= 1e-5 * (1.0 + fabs(ref)),
                      "index %llu: got %.9g, reference %.9g",
                      (unsigned long long)i, got, ref);
    }
    ck_assert_msg(worst < 1e-4, "worst error %.3g", worst);
}
END_TEST

START_TEST(uniform_range_and_moments)
{
    const uint64_t seed = 20240601;
    double sum = 0.0;
    double sum_sq = 0.0;
    double mean;
    double var;
    double sigma_mean = sqrt(1.0 / 12.0 / N_DRAWS);

    for (uint64_t i = 0; i < N_DRAWS; i++) {
        float u = rg_philox_uniform(seed, 1, 2, i);

        ck_assert_msg(u >= 0.0f && u < 1.0f, "draw %llu = %.9g",
                      (unsigned long long)i, (double)u);
        ck_assert_msg(u * 0x1p24f == floorf(u * 0x1p24f),
                      "draw %llu = %.9g is not a multiple of 2^-24",
                      (unsigned long long)i, (double)u);
        sum += u;
        sum_sq += (double)u * u;
    }
    mean = sum / N_DRAWS;
    var = sum_sq / N_DRAWS - mean * mean;
    /* Within 4 standard errors. The variance of (U - 1/2)^2 is 1/180. */
    ck_assert_msg(fabs(mean - 0.5) < 4.0 * sigma_mean, "mean %.6f", mean);
    ck_assert_msg(fabs(var - 1.0 / 12.0) < 4.0 * sqrt(1.0 / 180.0 / N_DRAWS),
                  "variance %.6f, expected %.6f", var, 1.0 / 12.0);
}
END_TEST

START_TEST(normal_moments_and_bounds)
{
    const uint64_t seed = 7;
    double sum = 0.0;
    double sum_sq = 0.0;
    double mean;
    double var;

    for (uint64_t i = 0; i < N_DRAWS; i++) {
        float z = rg_philox_normal(seed, 0, 5, i);

        ck_assert_msg(isfinite(z) && fabsf(z) <= 5.78f, "draw %llu = %.9g",
                      (unsigned long long)i, (double)z);
        sum += z;
        sum_sq += (double)z * z;
    }
    mean = sum / N_DRAWS;
    var = sum_sq / N_DRAWS - mean * mean;
    /* Standard errors: 1/sqrt(N) for the mean, sqrt(2/N) for the variance. */
    ck_assert_msg(fabs(mean) < 4.0 / sqrt(N_DRAWS), "mean %.6f", mean);
    ck_assert_msg(fabs(var - 1.0) < 4.0 * sqrt(2.0 / N_DRAWS),
                  "variance %.6f", var);
}
END_TEST

START_TEST(draws_are_deterministic)
{
    for (uint64_t i = 0; i < 1000; i++) {
        ck_assert_float_eq(rg_philox_uniform(42, 9, 3, i),
                           rg_philox_uniform(42, 9, 3, i));
        ck_assert_float_eq(rg_philox_normal(42, 9, 3, i),
                           rg_philox_normal(42, 9, 3, i));
    }
}
END_TEST

/*
 * Counts equal draws between two sequences of 1000. Two independent
 * sequences of 24-bit values agree at a given index with probability
 * 2^-24, so any match at all is suspicious.
 */
static int count_equal_draws(uint64_t seed_a, uint64_t step_a,
                             uint32_t stream_a, uint64_t seed_b,
                             uint64_t step_b, uint32_t stream_b)
{
    int n_equal = 0;

    for (uint64_t i = 0; i < 1000; i++) {
        if (rg_philox_uniform(seed_a, step_a, stream_a, i)
            == rg_philox_uniform(seed_b, step_b, stream_b, i)) {
            n_equal++;
        }
    }
    return n_equal;
}

START_TEST(streams_steps_seeds_differ)
{
    const uint64_t high_step = (UINT64_C(1) << 32) + 4;

    ck_assert_int_le(count_equal_draws(1, 4, 0, 1, 4, 1), 1);
    ck_assert_int_le(count_equal_draws(1, 4, 0, 1, 5, 0), 1);
    ck_assert_int_le(count_equal_draws(1, 4, 0, 2, 4, 0), 1);
    /* Steps equal in their low 32 bits differ through the key. */
    ck_assert_int_le(count_equal_draws(1, 4, 0, 1, high_step, 0), 1);
}
END_TEST

static Suite *philox_suite(void)
{
    Suite *s = suite_create("philox");
    TCase *tc_kat = tcase_create("known answers");
    TCase *tc_draw = tcase_create("draws");

    tcase_add_loop_test(tc_kat, kat_array_form, 0, N_KAT_ROWS);
    tcase_add_loop_test(tc_kat, kat_block_form, 0, N_KAT_ROWS);
    tcase_add_test(tc_kat, kat_output_aliases_counter);
    suite_add_tcase(s, tc_kat);

    tcase_add_test(tc_draw, uniform_uses_documented_mapping);
    tcase_add_test(tc_draw, normal_uses_words_0_and_1);
    tcase_add_test(tc_draw, uniform_range_and_moments);
    tcase_add_test(tc_draw, normal_moments_and_bounds);
    tcase_add_test(tc_draw, draws_are_deterministic);
    tcase_add_test(tc_draw, streams_steps_seeds_differ);
    suite_add_tcase(s, tc_draw);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(philox_suite());
    int n_failed;

    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
