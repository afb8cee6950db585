/* Keeps the support library non-empty when no support sources exist. */
typedef int wisp_test_support_empty_t;
