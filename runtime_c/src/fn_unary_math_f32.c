/* firmnet runtime: float32 element-wise math (exp, log, sqrt, erf, GELU, ELU...) followed
 * by a clamp. A separate file from fn_unary_f32.c so that models without these ops do not
 * link their functions; pow by a general exponent is fn_unary_pow_f32 (fn_pow_f32.c).
 * The op is dispatched once; each op has its own loop. */
#include "fn_elementwise_f32.h"
#include "fn_clamp.h"
#include "fn_float_bits.h"

/* 2 * sqrt(2/pi): GELU's tanh form x/2 * (1 + tanh(u)) = x * sigmoid(2u) */
#define FN_GELU_TANH_2C 1.5957691216057308f
#define FN_GELU_TANH_K 0.044715f

/* One loop per op: output[i] = clamp(EXPR), EXPR written in terms of x = input[i]. */
#define FN_UNARY_LOOP(EXPR)                                                       \
    do {                                                                          \
        for (i = 0; i < n; ++i) {                                                 \
            const float x = input[i];                                             \
            output[i] = fn_clampf(EXPR, lo, hi);                                  \
        }                                                                         \
    } while (0)

static float softplus(float x)
{
    return x > 0.0f ? x + fn_log1pf(fn_expf(-x)) : fn_log1pf(fn_expf(x));
}

fn_status fn_unary_math_f32(const fn_unary_f32_params *p, const float *input, float *output)
{
    int32_t i, n;
    float lo, hi, alpha, beta;

    if (p == NULL || input == NULL || output == NULL || p->count < 1) {
        return FN_ERR_ARG;
    }
    n = p->count;
    lo = p->act_min;
    hi = p->act_max;
    alpha = p->alpha;
    beta = p->beta;

    switch (p->op) {
    case FN_UNARY_EXP:
        FN_UNARY_LOOP(fn_expf(x));
        break;
    case FN_UNARY_LOG:
        FN_UNARY_LOOP(fn_logf(x));
        break;
    case FN_UNARY_SQRT:
        FN_UNARY_LOOP(fn_sqrtf(x));
        break;
    case FN_UNARY_RECIPROCAL:
        FN_UNARY_LOOP(1.0f / x);
        break;
    case FN_UNARY_ABS:
        FN_UNARY_LOOP(fn_f32_from_bits(fn_f32_bits(x) & 0x7fffffffu));
        break;
    case FN_UNARY_SIGN:
        FN_UNARY_LOOP(x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x));
        break;
    case FN_UNARY_BIPOLAR:
        FN_UNARY_LOOP(x >= 0.0f ? 1.0f : -1.0f);
        break;
    case FN_UNARY_NEG:
        FN_UNARY_LOOP(-x);
        break;
    case FN_UNARY_ERF:
        FN_UNARY_LOOP(fn_erff(x));
        break;
    case FN_UNARY_GELU:
        FN_UNARY_LOOP(fn_geluf(x));
        break;
    case FN_UNARY_GELU_TANH:
        FN_UNARY_LOOP(x * fn_sigmoidf(FN_GELU_TANH_2C * (x + FN_GELU_TANH_K * (x * x * x))));
        break;
    case FN_UNARY_ELU:
        FN_UNARY_LOOP(x >= 0.0f ? x : alpha * fn_expm1f(x));
        break;
    case FN_UNARY_SELU:
        FN_UNARY_LOOP(beta * (x > 0.0f ? x : alpha * fn_expm1f(x)));
        break;
    case FN_UNARY_SOFTPLUS:
        FN_UNARY_LOOP(softplus(x));
        break;
    case FN_UNARY_SILU:
        FN_UNARY_LOOP(x * fn_sigmoidf(x));
        break;
    case FN_UNARY_SQUARE:
        FN_UNARY_LOOP(x * x);
        break;
    default:
        return FN_ERR_ARG;
    }
    return FN_OK;
}
